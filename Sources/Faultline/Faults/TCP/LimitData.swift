/// `tcp.limit_data`: after `bytes` bytes (counted from when the fault applies) the link closes.
enum LimitData {
    static let kind = FaultKind(
        name: "tcp.limit_data",
        summary: "close the connection once bytes bytes went through",
        parameters: [FaultParameter("bytes", .bytes, default: nil, "bytes let through before the close")],
        example: "tcp.limit_data:bytes=64KB",
        directional: true,
        toxiproxy: ToxiproxyName(type: "limit_data", attributes: ["bytes": "bytes"])
    ) { fault, link in
        PipeSettingEffect(fault: fault, link: link,
                          apply: { $0.remaining = fault.count("bytes") },
                          undo: { $0.remaining = nil })
    }
}
