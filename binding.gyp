{
  "targets": [
    {
      "target_name": "shmex",
      "sources": ["native/shm.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "libraries": ["-lrt"]
    }
  ]
}
