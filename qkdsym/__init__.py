"""qkdsym: derive, verify and compile QKD formulas from optics."""
