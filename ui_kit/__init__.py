"""The Flet building blocks both apps' screens use (the tablet's and the bureau staff's): context, controls, font,
labels. Neither app's code lives here, so each side imports this and never the other side."""
