"""The queue component's browser side, played in Python for AppTest: it reads the payload the
page sent to the component and sends decisions back the way ``queue.js`` does (an outbox of
decisions with ids, kept until acknowledged, set as the component's ``outbox`` state)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from streamlit.testing.v1 import AppTest

KEY = "review_queue"
_IDS = itertools.count(1)


def queue_data(at: AppTest) -> dict[str, Any] | None:
    """The payload of the queue component on the page, or None when it is not there."""
    found = at.get("bidi_component")
    return json.loads(found[0].proto.json) if found else None


class QueueDriver:
    """A stand-in for the browser: ``press("accept")`` decides the image in front."""

    def __init__(self, at: AppTest) -> None:
        self.at = at
        self.outbox: list[dict[str, Any]] = []
        self.decided: set[int] = set()
        self.acks: list[dict[str, Any]] = []
        self.seq = 0

    @property
    def data(self) -> dict[str, Any]:
        data = queue_data(self.at)
        assert data is not None, "the queue component is not on the page"
        return data

    @property
    def window(self) -> list[dict[str, Any]]:
        return [c for c in self.data["window"] if c["id"] not in self.decided]

    @property
    def shown(self) -> int | None:
        """The image the browser shows: the first of the window not decided here."""
        window = self.window
        return window[0]["id"] if window else None

    @property
    def card(self) -> dict[str, Any]:
        return self.window[0]

    def press(
        self,
        decision: str,
        reason: str | None = None,
        *,
        target: int | None = None,
        image_id: int | None = None,
    ) -> dict[str, Any]:
        """One decision (on ``image_id``, else the image shown), sent; its acknowledgement."""
        image = image_id if image_id is not None or decision == "undo" else self.shown
        cid = f"test-{next(_IDS):012d}"
        item = {"cid": cid, "decision": decision, "image_id": image, "reason": reason,
                "target_breed_id": target}  # fmt: skip
        self.outbox.append(item)
        if image is not None and decision != "undo":
            self.decided.add(image)
        self.send()
        (ack,) = [a for a in self.acks if a["client_id"] == cid]
        if decision == "undo" and ack.get("image_id") is not None:
            self.decided.discard(ack["image_id"])
        return ack

    def send(self) -> None:
        """The outbox as the component's state, one run of the page, the acks read back."""
        self.seq += 1
        self.at.session_state[KEY] = {"outbox": {"seq": str(self.seq), "items": self.outbox}}
        self.at.run()
        assert not self.at.exception, [e.value for e in self.at.exception]
        self.acks = self.data["acks"]
        acked = {a["client_id"] for a in self.acks}
        self.outbox = [i for i in self.outbox if i["cid"] not in acked]
