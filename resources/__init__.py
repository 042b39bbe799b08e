"""Files that ship with memsa: router projectors, sample notes, icons and styles."""
