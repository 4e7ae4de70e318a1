"""Knowledge base: Markdown articles with front matter, revisions, chunking and safe rendering."""
