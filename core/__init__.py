"""The MSA memory engine: model, memory bank, routing and answering. Never imports Qt."""
