"""Hand-written revisions, one file each; `revision` ids are "0001", "0002", ..."""
