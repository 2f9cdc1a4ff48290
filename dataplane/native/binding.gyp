{
  "targets": [
    {
      "target_name": "vxtun_native",
      "sources": [
        "src/module.c",
        "src/args.c",
        "src/batch.c",
        "src/tun.c",
        "src/link.c",
        "src/udp.c",
        "src/poll.c",
        "src/csum.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
