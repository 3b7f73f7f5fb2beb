"""The inference engine: llama.cpp runs in a child process so its aborts never take the window down."""
