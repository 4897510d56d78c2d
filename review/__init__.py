"""Review: plain Python over the database — decisions, the queue, consensus, flags, and the
reviewed set's products (export, datasheet). No Streamlit: the app and the CLI both call this."""
