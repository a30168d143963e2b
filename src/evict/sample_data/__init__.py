"""Data shipped with evict: the sample osquery fleet `evict demo` scans, and reference lists."""
