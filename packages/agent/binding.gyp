{
  "targets": [
    {
      "target_name": "ring3_sockets",
      "sources": ["native/ring3_sockets.c", "native/ring3_napi.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", {"sources!": ["native/ring3_sockets.c", "native/ring3_napi.c"]}]]
    },
    {
      "target_name": "ring3_response",
      "sources": ["native/ring3_response.c", "native/ring3_exec_guard.c", "native/ring3_sha256.c", "native/ring3_napi.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [
        [
          "OS!='linux'",
          {"sources!": ["native/ring3_response.c", "native/ring3_exec_guard.c", "native/ring3_sha256.c", "native/ring3_napi.c"]}
        ]
      ]
    }
  ]
}
