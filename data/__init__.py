"""The bundled demo's data, installed as ``courier.demo_data`` (see SOURCE.md beside this file)."""
