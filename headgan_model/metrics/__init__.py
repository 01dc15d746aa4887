"""The paper's metrics (supplement §5), one module per metric, on uint8 frames."""
