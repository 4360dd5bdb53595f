"""What both sides render from a record: the PDF building blocks and fonts, signature images."""
