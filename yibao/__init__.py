"""The `yibao` command line: the one place that imports both the bureau and the device side."""
