{
  "targets": [
    {
      "target_name": "lean_tls",
      "sources": ["lean_tls.c", "record_layer.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
