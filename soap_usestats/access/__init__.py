"""Who may see what: Moodle's capabilities, and the contract's rules over them."""
