{
  "targets": [
    {
      "target_name": "ring3_sockets",
      "sources": ["native/ring3_sockets.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", {"sources!": ["native/ring3_sockets.c"]}]]
    }
  ]
}
