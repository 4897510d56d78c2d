// The review queue in the browser: the next images are held here, preloaded and decoded; a key
// shows the next one at once and the decision goes to the server in the background.
//
// Decisions wait in an outbox (kept in localStorage too) until the server acknowledges them by
// their id; the outbox is sent again until then, and the server records each id once. Every
// string from the server is shown as text (textContent); the only link is a landing page the
// server already checked to be http(s).

const QUEUES = new Map(); // one per reviewer and page: survives Streamlit's re-renders
const RESEND_MS = 2500; // an unanswered send is repeated after this long
const HEALTH_MS = 2000; // while the server does not answer, ask it this often if it is back

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class Queue {
  constructor(storageKey) {
    this.storageKey = storageKey;
    this.outbox = this.load(); // decisions not acknowledged yet, in order
    this.decided = new Map(); // image id -> decision, made on this page (not undone)
    this.history = []; // [{card, cid}] decided here, newest last: what undo brings back
    this.cards = []; // the server's latest window, in its order
    this.current = null;
    this.preloaded = new Map(); // src -> decoded <img>
    this.lastSent = 0;
    this.seq = 0;
    this.offline = false;
    this.message = "";
    this.error = "";
    this.scope = null;
    this.data = null;
    this.attached = false;
    this.ackTimes = []; // keypress → acknowledgement, ms (read by bench/review.py)
  }

  load() {
    try {
      const items = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (e) {
      return [];
    }
  }

  save() {
    try {
      if (this.outbox.length) localStorage.setItem(this.storageKey, JSON.stringify(this.outbox));
      else localStorage.removeItem(this.storageKey);
    } catch (e) {
      /* storage full or disabled: the outbox still lives in memory */
    }
  }

  // ---- wiring to the page -------------------------------------------------------------
  attach(parent, setStateValue) {
    this.setStateValue = setStateValue;
    if (!parent.querySelector(".bbq")) {
      // Into the component's own mount point: the parent also holds Streamlit's <style>.
      (parent.querySelector(".bbq-mount") || parent).replaceChildren(this.build());
      if (this.data) this.buildButtons();
      this.attached = false;
    }
    this.parent = parent;
    if (!this.attached) {
      this.onKey = (e) => this.key(e);
      this.onUnload = (e) => {
        if (this.outbox.length) {
          e.preventDefault();
          e.returnValue = "";
        }
      };
      document.addEventListener("keydown", this.onKey);
      window.addEventListener("beforeunload", this.onUnload);
      this.timer = setInterval(() => this.tick(), 500);
      this.attached = true;
    }
  }

  detach() {
    document.removeEventListener("keydown", this.onKey);
    window.removeEventListener("beforeunload", this.onUnload);
    clearInterval(this.timer);
    this.attached = false;
  }

  build() {
    const root = el("div", { class: "bbq" });
    this.rootEl = root; // overlays go here: the component's styles apply inside it
    this.banner = el("div", { class: "bbq-banner", role: "status", hidden: "" });
    const body = el("div", { class: "bbq-body" });
    const left = el("div", { class: "bbq-left" });
    this.picture = el("div", { class: "st-key-review-image bbq-picture" });
    this.pictureError = el("div", { class: "bbq-error", hidden: "" });
    this.refs = el("div", { class: "bbq-refs", hidden: "" });
    left.append(this.picture, this.pictureError, this.refs);
    const side = el("div", { class: "bbq-side" });
    this.title = el("h3", { class: "bbq-title" });
    this.caption = el("div", { class: "bbq-caption" });
    this.info = el("div", { class: "bbq-info" });
    this.flags = el("div", { class: "bbq-flags" });
    this.buttons = el("div", { class: "bbq-buttons" });
    this.status = el("div", { class: "bbq-status" });
    side.append(this.title, this.caption, this.info, this.flags, this.buttons, this.status);
    this.empty = el("div", { class: "bbq-empty", hidden: "" });
    body.append(left, side);
    root.append(this.banner, body, this.empty);
    this.body = body;
    return root;
  }

  button(label, shortcut, kind, onClick) {
    const b = el("button", { type: "button", class: `bbq-btn bbq-${kind}`, "data-key": shortcut });
    b.append(el("span", {}, label), el("kbd", {}, shortcut));
    b.addEventListener("click", onClick);
    return b;
  }

  buildButtons() {
    const d = this.data;
    this.buttons.replaceChildren();
    this.buttons.append(this.button("Accept", "A", "accept", () => this.decide("accept")));
    this.buttons.append(el("div", { class: "bbq-label" }, "Reject as"));
    const grid = el("div", { class: "bbq-grid" });
    d.reasons.forEach(([code, label], i) => {
      const text = label.charAt(0).toUpperCase() + label.slice(1);
      grid.append(this.button(text, String(i + 1), "reject", () => this.decide("reject", code)));
    });
    this.buttons.append(grid);
    const row = el("div", { class: "bbq-grid" });
    row.append(this.button("Skip", "S", "skip", () => this.decide("skip")));
    row.append(this.button("Undo", "U", "undo", () => this.undo()));
    this.buttons.append(row);
    const relabel = el("div", { class: "bbq-relabel" });
    const listId = `${d.key}-breeds`;
    this.relabelInput = el("input", {
      list: listId,
      class: "bbq-relabel-input",
      placeholder: "Type to search breeds",
      "aria-label": "Relabel to another breed",
    });
    const list = el("datalist", { id: listId });
    this.breedByLabel = new Map();
    for (const [id, label] of d.breeds) {
      list.append(el("option", { value: label }));
      this.breedByLabel.set(label, id);
    }
    this.relabelButton = this.button("Relabel", "L", "relabel", () => this.relabel());
    this.relabelInput.addEventListener("input", () => this.renderRelabel());
    this.relabelInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") this.relabel();
    });
    relabel.append(
      el("div", { class: "bbq-label" }, "Relabel to another breed"),
      this.relabelInput,
      list,
      this.relabelButton,
    );
    this.buttons.append(relabel);
    this.emptyUndo = this.button("Undo", "U", "undo", () => this.undo());
  }

  // ---- data from the server --------------------------------------------------------------
  receive(data) {
    const first = this.data === null;
    this.data = data;
    if (first) this.buildButtons();
    this.offline = false;
    if (data.scope !== this.scope) {
      this.scope = data.scope;
      this.current = null;
    }
    this.lastSent = 0; // the server answered: a new send may go at once
    const byCid = new Map(data.acks.map((a) => [a.client_id, a]));
    const kept = [];
    for (const item of this.outbox) {
      const ack = byCid.get(item.cid);
      if (!ack) {
        kept.push(item);
        continue;
      }
      if (!ack.ok) {
        this.error = ack.message;
        if (item.image_id != null) this.decided.delete(item.image_id);
      } else {
        this.message = ack.message;
        if (item.t !== undefined && this.ackTimes.length < 5000) {
          this.ackTimes.push(performance.now() - item.t);
        }
        // The server now knows of the skip and puts the image after the fresh ones itself.
        if (item.decision === "skip" && this.decided.get(item.image_id) === "skip") {
          this.decided.delete(item.image_id);
        }
        if (item.decision === "undo" && !item.local && ack.image_id != null) {
          this.bringBack(ack.image_id, data.window);
        }
      }
    }
    this.outbox = kept;
    this.save();
    this.cards = data.window;
    for (const item of this.outbox) {
      if (item.decision !== "undo") this.decided.set(item.image_id, item.decision);
    }
    if (!this.current || !this.current.id) this.current = this.nextCard();
    this.preload();
    this.render();
    this.flush();
  }

  bringBack(imageId, window) {
    const card = window.find((c) => c.id === imageId);
    this.decided.delete(imageId);
    if (card && (!this.current || this.current.id !== imageId)) {
      if (this.current) this.cards = [this.current, ...this.cards];
      this.current = card;
    }
  }

  upcoming() {
    const skip = new Set(this.current ? [this.current.id] : []);
    return this.cards.filter((c) => !skip.has(c.id) && !this.decided.has(c.id));
  }

  nextCard() {
    return this.upcoming()[0] || null;
  }

  preload() {
    const wanted = new Set();
    for (const card of [this.current, ...this.upcoming()]) {
      if (!card || !card.src) continue;
      wanted.add(card.src);
      if (this.preloaded.has(card.src)) continue;
      const img = new Image();
      img.decoding = "async";
      img.alt = `#${card.id}`;
      img.src = card.src;
      img.decode().catch(() => {});
      this.preloaded.set(card.src, img);
    }
    for (const src of [...this.preloaded.keys()]) {
      if (!wanted.has(src) && this.preloaded.size > 24) this.preloaded.delete(src);
    }
  }

  // ---- decisions ------------------------------------------------------------------------
  enlarge(ref) {
    // A reference picture at review size, over the page; a click or Escape closes it.
    this.closeEnlarged();
    const overlay = el("div", { class: "bbq-overlay", role: "dialog" });
    overlay.append(
      el("img", { src: ref.large, alt: ref.breed }),
      el("div", { class: "bbq-overlay-caption" }, [ref.breed, ref.caption].join(" · ")),
    );
    overlay.addEventListener("click", () => this.closeEnlarged());
    this.rootEl.append(overlay);
    this.overlay = overlay;
  }

  closeEnlarged() {
    if (this.overlay) this.overlay.remove();
    this.overlay = null;
  }

  key(e) {
    if (this.overlay && e.key === "Escape") {
      this.closeEnlarged();
      e.preventDefault();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const t = e.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    if (!this.data || !this.parent || !this.parent.isConnected) return;
    const k = e.key.toLowerCase();
    const reasons = this.data.reasons;
    if (k === "a") this.decide("accept");
    else if (k === "s") this.decide("skip");
    else if (k === "u") this.undo();
    else if (k === "l") {
      if (!this.relabel()) this.relabelInput.focus();
    } else if (/^[1-9]$/.test(k) && Number(k) <= reasons.length) {
      this.decide("reject", reasons[Number(k) - 1][0]);
    } else return;
    e.preventDefault();
  }

  decide(decision, reason = null, target = null) {
    const card = this.current;
    if (!card) return false;
    const item = { cid: newId(), decision, image_id: card.id, reason, target_breed_id: target };
    Object.defineProperty(item, "t", { value: performance.now(), enumerable: false });
    this.outbox.push(item);
    this.save();
    this.decided.set(card.id, decision);
    this.history.push({ card, cid: item.cid });
    this.current = this.nextCard();
    this.error = "";
    this.relabelInput.value = "";
    this.render();
    this.flush();
    return true;
  }

  relabel() {
    const target = this.breedByLabel.get(this.relabelInput.value);
    if (target === undefined || !this.current || target === this.current.breed_id) return false;
    return this.decide("relabel", null, target);
  }

  undo() {
    const last = this.history.pop();
    const item = { cid: newId(), decision: "undo", image_id: null, local: Boolean(last) };
    this.outbox.push(item);
    this.save();
    if (last) {
      this.decided.delete(last.card.id);
      if (this.current && this.current.id !== last.card.id) {
        this.cards = [this.current, ...this.cards.filter((c) => c.id !== this.current.id)];
      }
      this.current = last.card;
    }
    this.render();
    this.flush();
  }

  // ---- sending ----------------------------------------------------------------------------
  flush(force = false) {
    if (!this.outbox.length || !this.setStateValue) return;
    const now = Date.now();
    if (!force && this.lastSent && now - this.lastSent < RESEND_MS) return; // one send in flight
    this.lastSent = now;
    this.seq += 1;
    const items = this.outbox.map(({ cid, decision, image_id, reason, target_breed_id }) => ({
      cid, decision, image_id, reason, target_breed_id,
    }));
    this.setStateValue("outbox", { seq: `${now}-${this.seq}`, items });
  }

  tick() {
    if (!this.outbox.length || !this.lastSent) return;
    const waited = Date.now() - this.lastSent;
    if (waited >= RESEND_MS) this.checkServer();
  }

  async checkServer() {
    if (this.checking || (this.lastCheck && Date.now() - this.lastCheck < HEALTH_MS)) return;
    this.checking = true;
    this.lastCheck = Date.now();
    let up = false;
    try {
      const r = await fetch(this.data.health_url, { cache: "no-store" });
      up = r.ok;
    } catch (e) {
      up = false;
    }
    this.checking = false;
    const was = this.offline;
    this.offline = !up;
    if (up) this.flush(true);
    if (was !== this.offline) this.render();
    else this.renderBanner();
  }

  // ---- drawing ----------------------------------------------------------------------------
  renderBanner() {
    const n = this.outbox.length;
    if (this.offline) {
      this.banner.hidden = false;
      this.banner.className = "bbq-banner bbq-offline";
      this.banner.textContent =
        `The server is not reachable. ${n} decision${n === 1 ? "" : "s"} kept in this browser; ` +
        "they are sent when it is back (do not close this tab).";
    } else if (this.error) {
      this.banner.hidden = false;
      this.banner.className = "bbq-banner bbq-refused";
      this.banner.textContent = this.error;
    } else {
      this.banner.hidden = true;
    }
  }

  render() {
    this.renderBanner();
    const card = this.current;
    const d = this.data;
    const unsent = this.outbox.filter((i) => i.decision !== "undo").length;
    const last = this.message ? `Last: ${this.message}` : "Decide with the keys shown on the buttons.";
    const pending = unsent ? ` · ${unsent} being saved` : "";
    if (!card) {
      this.body.hidden = true;
      this.empty.hidden = false;
      this.empty.replaceChildren(
        el("div", { class: "bbq-done" }, "Nothing left to review here. Thank you!"),
        el("div", { class: "bbq-caption" }, last + pending),
        this.emptyUndo,
      );
      return;
    }
    this.body.hidden = false;
    this.empty.hidden = true;
    if (card.src) {
      let img = this.preloaded.get(card.src);
      if (!img) {
        this.preload();
        img = this.preloaded.get(card.src);
      }
      const shown = this.picture.querySelector("img");
      if (shown !== img) {
        img.alt = `#${card.id}`;
        if (shown) shown.replaceWith(img);
        else this.picture.prepend(img);
      }
      this.pictureError.hidden = true;
    } else {
      this.picture.querySelector("img")?.remove();
      this.pictureError.hidden = false;
      this.pictureError.textContent = card.error || "no picture";
    }
    let cap = this.picture.querySelector(".bbq-id");
    if (!cap) {
      cap = el("div", { class: "bbq-id" });
      this.picture.append(cap);
    }
    cap.textContent = `#${card.id}`;
    this.refs.replaceChildren();
    this.refs.hidden = !card.references.length;
    for (const ref of card.references) {
      const fig = el("figure", { class: ref.lookalike ? "bbq-ref bbq-lookalike" : "bbq-ref" });
      if (ref.src) {
        const thumb = el("img", { src: ref.src, alt: ref.breed, loading: "lazy" });
        if (ref.large) {
          thumb.classList.add("bbq-zoomable");
          thumb.title = "Click to enlarge";
          thumb.addEventListener("click", () => this.enlarge(ref));
        }
        fig.append(thumb);
      }
      fig.append(el("figcaption", {}, [ref.breed, ref.caption].filter(Boolean).join(" · ")));
      this.refs.append(fig);
    }
    this.title.textContent = card.breed_name;
    const left = Math.max(0, d.remaining - unsent);
    this.caption.textContent = `${card.breed_slug} · image #${card.id} · ${left} left in your queue`;
    this.info.replaceChildren(
      this.line("Query", card.query || "—"),
      this.line("Source", card.source, card.landing_url),
      this.line("License", card.license + (card.creator ? ` · ${card.creator}` : "")),
      this.line("Size", card.size),
    );
    this.flags.replaceChildren(
      ...card.flags.map((f) =>
        el("div", { class: "bbq-flag" }, `Flagged: ${f} (see Duplicates & conflicts)`),
      ),
    );
    if (card.screening) {
      // What a screening model said: a mark beside the image, never a decision.
      this.flags.append(
        el("div", { class: `bbq-screening bbq-${card.screening.tone}` }, card.screening.badge),
        el("div", { class: "bbq-screening-detail" }, card.screening.detail),
      );
    }
    this.status.textContent = last + pending;
    this.renderRelabel();
  }

  line(label, text, href) {
    const row = el("div", { class: "bbq-line" });
    row.append(el("strong", {}, `${label} `));
    if (href) {
      const a = el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, text);
      row.append(a);
    } else {
      row.append(document.createTextNode(text));
    }
    return row;
  }

  renderRelabel() {
    const target = this.breedByLabel.get(this.relabelInput.value);
    this.relabelButton.disabled =
      target === undefined || !this.current || target === this.current.breed_id;
  }
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  let queue = QUEUES.get(data.storage_key);
  if (!queue) {
    queue = new Queue(data.storage_key);
    QUEUES.set(data.storage_key, queue);
  }
  queue.attach(parentElement, setStateValue);
  queue.receive(data);
  window.__breedbenchQueue = queue; // for the page's own tests and benchmarks
  return () => queue.detach();
}
