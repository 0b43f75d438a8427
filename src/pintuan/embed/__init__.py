"""The embeddable group-buy widget: its settings per merchant, its bundle and its routes."""
