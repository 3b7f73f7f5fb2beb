"""Facts about a model without loading it: the GGUF header parser, ModelFacts, the reader of Hugging Face
folders (config.json and safetensors headers), and the models on disk (the starter, ours, files a person
added, the HF cache, LM Studio's, GPT4All's and Ollama's: other_apps.py), all read in place.

May import: shared modules.
"""
