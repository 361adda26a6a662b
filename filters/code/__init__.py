"""Source code: languages by file extension, DeepSeek-Coder's file quality rules, and repository-level
samples (a repository's files in dependency order)."""
