"""Test-session setup shared by every test file.

MuJoCo (DMC through Shimmy) picks its OpenGL backend once, when its renderer is first imported:
headless EGL must be chosen before any test imports it, whatever the order tests run in (a
user's own MUJOCO_GL wins).
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
