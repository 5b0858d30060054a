import Transfer

/// What kind of value an option takes. The parser checks a value against its kind before
/// any command sees it (so every bad value is one usage error naming the option and the
/// value), and the completions use it to offer files, directories or a fixed list.
enum ValueKind: Equatable {
    /// A number of seconds from 1 ms to 10^6 s: every timeout and interval in xfer fits a
    /// `timeval` and a millisecond `poll` count within that range, and below 1 ms a socket
    /// timeout would round to 0, which means "no timeout".
    case seconds
    /// A whole number from 1 to 1,000,000.
    case count
    /// A number with an optional unit s, m, h or d (seconds by default), up to 100 years.
    case duration
    /// Octal permission bits, at most 0777.
    case octalMask
    /// A number of bytes, 0 or more.
    case bytes
    /// HOST:PORT, checked by the command (its errors suggest what was meant).
    case address
    /// A path to a file.
    case file
    /// A path to a directory.
    case directory
    /// Free text, checked by the command.
    case text

    /// Why `text` is not a value of this kind for `--option`, or nil when it is.
    func problem(_ text: String, option: String) -> String? {
        switch self {
        case .seconds:
            if let seconds = Double(text), seconds.isFinite, seconds >= 0.001, seconds <= 1_000_000 { return nil }
            return "'--\(option)' takes a number of seconds from 0.001 to 1000000, not '\(text)'"
        case .count:
            if let count = Int(text), count > 0, count <= 1_000_000 { return nil }
            return "'--\(option)' takes a whole number from 1 to 1000000, not '\(text)'"
        case .duration:
            if ValueKind.seconds(ofDuration: text) != nil { return nil }
            return "'--\(option)' takes a duration such as 90s, 30m, 12h or 7d, not '\(text)'"
        case .octalMask:
            if let mask = UInt16(text, radix: 8), mask <= 0o777 { return nil }
            return "'--\(option)' takes octal permission bits such as 022 or 077, not '\(text)'"
        case .bytes:
            if let bytes = Int(text), bytes >= 0 { return nil }
            return "'--\(option)' takes a number of bytes, not '\(text)'"
        case .address, .file, .directory, .text:
            return nil
        }
    }

    /// A duration in seconds: a number with an optional unit s, m, h or d, from 0 to 100 years.
    static func seconds(ofDuration text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(text)
        var unit = 1.0
        if let last = text.last, let factor = units[last] {
            number = number.dropLast()
            unit = factor
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * unit <= 100 * 365 * 86400 else {
            return nil
        }
        return value * unit
    }
}

/// One option of one or more commands: the single description that the parser, `--help`,
/// the usage lines, `xfer man` and `xfer completions` all read, so none of them can name
/// an option the others do not know, or describe it differently.
struct OptionSpec {
    /// The name without dashes: `timeout` is `--timeout`.
    let name: String
    /// What the value is called in help (`SECONDS`); nil for a flag, which takes none.
    let valueName: String?
    /// How the value is checked and completed (ignored for a flag).
    let kind: ValueKind
    /// What the option does, in sentences.
    let help: String
    /// The value used when the option is not given, as shown in help; read from the
    /// options the code uses, so help cannot state a default the code does not have.
    let defaultValue: String?
    /// The commands that accept it.
    let commands: [CommandName]

    /// A flag: present or not.
    static func flag(_ name: String, _ help: String, _ commands: CommandName...) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, kind: .text, help: help, defaultValue: nil, commands: commands)
    }

    /// An option that takes a value.
    static func value(
        _ name: String,
        _ valueName: String,
        _ kind: ValueKind,
        _ help: String,
        default defaultValue: String? = nil,
        _ commands: CommandName...
    ) -> OptionSpec {
        OptionSpec(
            name: name,
            valueName: valueName,
            kind: kind,
            help: help,
            defaultValue: defaultValue,
            commands: commands
        )
    }

    /// `--name VALUE` or `--name`.
    var label: String { valueName.map { "--\(name) \($0)" } ?? "--\(name)" }
}

/// A number of seconds as help shows it: `30`, `0.5`.
private func seconds(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
}

/// Every option of every command, in the order help lists them.
let optionTable: [OptionSpec] = {
    let sender = SenderOptions()
    let raw = RawSendOptions()
    let receiver = ReceiverOptions()
    let port = Endpoint.defaultPort
    return [
        // xfer send
        .value(
            "key",
            "FILE",
            .file,
            "A pre-shared key (made by xfer keygen; without --key, the file $XFER_KEY_FILE names): "
                + "the receiver must prove it before anything is sent.",
            .send
        ),
        .value(
            "name",
            "NAME",
            .text,
            "Name of the standard-input stream (or of --run's output) on the receiver.",
            default: "stdin",
            .send
        ),
        .value(
            "run",
            "COMMAND",
            .text,
            "Run COMMAND (/bin/sh -c) and send its standard output as --name, ended only if it exits 0: a "
                + "failing producer (a dump that dies half-way) is cancelled, nothing is committed, and xfer "
                + "exits 74 naming its status. With -, exit 0 means the bytes that came arrived, not that "
                + "whatever wrote them succeeded: use --run.",
            .send
        ),
        .flag(
            "json",
            "One JSON object per event on stdout (connected, started, progress, confirmed, failed, skipped, "
                + "warning, done).",
            .send
        ),
        .flag("quiet", "Print nothing but errors.", .send),
        .value(
            "timeout",
            "SECONDS",
            .seconds,
            "Give up when the receiver is silent this long.",
            default: seconds(sender.idleTimeout),
            .send
        ),
        .value(
            "connect-timeout",
            "SECONDS",
            .seconds,
            "Give up connecting after this long.",
            default: seconds(sender.connectTimeout),
            .send
        ),
        .value(
            "keepalive",
            "SECONDS",
            .seconds,
            "While standard input is quiet, or a file is being hashed, tell the receiver every SECONDS that "
                + "the sender is alive.",
            default: seconds(sender.keepAliveInterval),
            .send
        ),
        .value(
            "streams",
            "N",
            .count,
            "Use N connections (1-16). Files of at least two of the receiver's blocks go as blocks over all of "
                + "them, the rest over the first. Default: 1 when the round trip is under 2 ms (loopback, a LAN), "
                + "else one per 5 ms of round trip, 2 to 8.",
            default: "by round trip",
            .send
        ),
        .flag(
            "no-resume",
            "Send every file afresh under a new transfer ID: nothing the receiver kept or committed earlier is "
                + "reused.",
            .send
        ),
        .flag("allow-nondurable", "Exit 0 even when the receiver confirms without the durable flag.", .send),
        .flag(
            "raw",
            "Send one unframed stream to a plain TCP peer (nc -l, a printer); it can show only what the peer's "
                + "TCP acknowledged, not what its application read: see `xfer send --raw --help` (exit 0, 78-80).",
            .send,
            .raw
        ),
        // xfer send --raw
        .flag(
            "show-reply",
            "Copy what the peer sends to stdout. It is read either way, so that closing never leaves unread "
                + "data (which makes the kernel send a reset).",
            .raw
        ),
        .flag("json", "One JSON object per event on stdout (connected, progress, done).", .raw),
        .flag("quiet", "Print nothing but a verdict other than 0.", .raw),
        .value(
            "timeout",
            "SECONDS",
            .seconds,
            "Decide once the peer made no progress for this long (no byte taken, acknowledged or sent back, "
                + "no end of stream). A quiet standard input does not count.",
            default: seconds(raw.timeout),
            .raw
        ),
        .value(
            "connect-timeout",
            "SECONDS",
            .seconds,
            "Give up connecting after this long.",
            default: seconds(raw.connectTimeout),
            .raw
        ),
        // xfer receive
        .value(
            "listen",
            "HOST:PORT",
            .address,
            "Address to listen on ([::]:\(port) is IPv6 and IPv4; 0.0.0.0:\(port) is used where there is no "
                + "IPv6; port 0 picks a free port). Prints \"xfer: listening on HOST:PORT\".",
            default: "[::]:\(port)",
            .receive
        ),
        .value(
            "key",
            "FILE",
            .file,
            "A pre-shared key (made by xfer keygen; without --key, the file $XFER_KEY_FILE names): only "
                + "senders that prove it are served.",
            .receive
        ),
        .flag("no-auth", "Listen on a non-loopback address without authentication.", .receive),
        .value(
            "dir",
            "DIR",
            .directory,
            "Directory to write into. Its .xfer/ subdirectory holds partial files and the commit log.",
            default: "the current directory",
            .receive
        ),
        .flag(
            "once",
            "Serve one connection, then exit (0 if it ended cleanly). It grants no session: a sender uses one "
                + "connection.",
            .receive
        ),
        .value(
            "timeout",
            "SECONDS",
            .seconds,
            "Drop a peer silent this long.",
            default: seconds(receiver.idleTimeout),
            .receive
        ),
        .value(
            "max-connections",
            "N",
            .count,
            "Serve at most N senders at once.",
            default: String(receiver.maxConnections),
            .receive
        ),
        .value(
            "max-per-address",
            "N",
            .count,
            "At most N connections from one address at once.",
            default: String(receiver.maxPerAddress),
            .receive
        ),
        .value(
            "max-streams",
            "N",
            .count,
            "Grant a sender at most N connections for one transfer session (1: none; also at most 16 and "
                + "--max-per-address).",
            default: String(receiver.maxStreams),
            .receive
        ),
        .value(
            "block-size",
            "BYTES",
            .bytes,
            "Blocks of a file sent over several connections are BYTES long: a power of two from 65536 to "
                + "67108864.",
            default: String(receiver.blockSize),
            .receive
        ),
        .value(
            "handshake-timeout",
            "SECONDS",
            .seconds,
            "Drop a connection that has not completed its handshake this long after it was accepted, however "
                + "it trickles.",
            default: seconds(receiver.handshakeTimeout),
            .receive
        ),
        .value(
            "keep-partials",
            "TIME",
            .duration,
            "Keep the partial file of an interrupted transfer this long for a resume (s, m, h, d suffixes). "
                + "Partials together hold at most a quarter of the file system; the oldest go first.",
            default: receiver.partialRetention.truncatingRemainder(dividingBy: 86400) == 0
                ? "\(Int(receiver.partialRetention / 86400))d" : seconds(receiver.partialRetention),
            .receive
        ),
        .value(
            "umask",
            "OCTAL",
            .octalMask,
            "Permission bits never given to received files.",
            default: "the process umask plus o+w: nothing received is world-writable",
            .receive
        ),
        .value(
            "exec",
            "COMMAND",
            .text,
            "Hand each committed file to COMMAND (/bin/sh -c) on its standard input, with XFER_NAME, "
                + "XFER_PATH, XFER_SIZE and XFER_PEER set, and acknowledge it only if COMMAND exits 0; "
                + "otherwise the sender gets an error naming the status (it exits 71), the file stays, and "
                + "a retry runs COMMAND again.",
            .receive
        ),
        .flag("quiet", "Log nothing but the listening line and errors.", .receive),
        .flag(
            "log-json",
            "Log one JSON object per line on stderr (time, peer, event, name, bytes, resumed_from, detail) "
                + "instead of text.",
            .receive
        ),
        // xfer state
        .value(
            "dir",
            "DIR",
            .directory,
            "The receiver's directory.",
            default: "the current directory",
            .state
        ),
        .flag("clean", "Remove every partial file not being written.", .state),
        .flag(
            "json",
            "One JSON object per partial file on stdout (name, file, bytes, age_seconds, removed), then a "
                + "summary object (event \"done\").",
            .state
        ),
        // xfer demo
        .value(
            "size",
            "BYTES",
            .bytes,
            "Size of the file to send.",
            default: "\(DemoCommand.defaultSize) (64 MiB); with --naive \(DemoCommand.naiveSize)",
            .demo
        ),
        .flag("naive", "Show plain TCP losing data, next to --raw and xfer's protocol.", .demo),
    ]
}()

extension CommandName {
    /// This command's options, in table order: what its parser accepts.
    var options: [OptionSpec] { optionTable.filter { $0.commands.contains(self) } }

    /// The options its documents list: all of them, except that `send --raw` does not
    /// list `--raw` among its options (it is part of the command's name there).
    var documentedOptions: [OptionSpec] { self == .raw ? options.filter { $0.name != "raw" } : options }
}
