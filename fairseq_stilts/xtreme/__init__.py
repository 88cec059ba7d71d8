"""XTREME itself: its download folder prepared in one go, and its submission folder."""
