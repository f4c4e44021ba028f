"""What keeps a public endpoint safe: request rules, the sandbox and its one gateway."""
