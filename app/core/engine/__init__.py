"""The inference engine: llama.cpp runs in a child process so its aborts never take the window down. The
protocol (messages), the server (child side), the client (app side), the llama.cpp session, the doctor.

May import: shared modules, process, machine, models.
"""
