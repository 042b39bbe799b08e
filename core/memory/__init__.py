"""The MSA memory bank: what is remembered (SQLite index) and where its tensors live (tensor store)."""
