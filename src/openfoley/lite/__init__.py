"""The torch-free inference runtime: numpy + ONNX Runtime."""
