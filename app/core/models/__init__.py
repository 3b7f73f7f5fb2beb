"""Facts about a model without loading it: the GGUF header parser, ModelFacts, the reader of Hugging Face
folders (config.json and safetensors headers), and the models on disk (the starter, ours, the HF cache).

May import: shared modules.
"""
