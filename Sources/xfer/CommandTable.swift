import Transfer

/// xfer's commands. `send --raw` is a command of its own here, though it is typed as an
/// option of `send`: it takes other options and other arguments, and has its own help.
enum CommandName: String, CaseIterable {
    case send
    case raw
    case receive
    case keygen
    case state
    case demo
    case man
    case completions

    /// How it is typed after `xfer`.
    var invocation: String { self == .raw ? "send --raw" : rawValue }
}

/// A positional argument, as help and the man page describe it.
struct ArgumentSpec {
    /// `PATH...`, `HOST[:PORT]`.
    let name: String
    /// What it is, in sentences.
    let help: String
    /// How a shell completes it.
    let kind: ValueKind
    /// Fixed choices, offered by the completions (`bash`, `zsh`, `fish`).
    var choices: [String] = []
}

/// What help, the man page and the completions say about a command besides its options,
/// which ``optionTable`` holds.
struct CommandSpec {
    let name: CommandName
    /// One line for the list of commands.
    let summary: String
    /// The paragraphs before USAGE.
    let overview: String
    /// The positional arguments, in order.
    let arguments: [ArgumentSpec]
    /// Paragraphs after the options: notes, exit statuses. Lines indented by two spaces
    /// are kept as they are (tables); the rest is text.
    let footer: String

    /// The options this command accepts.
    var options: [OptionSpec] { name.options }

    /// The spec of `name`.
    static func of(_ name: CommandName) -> CommandSpec { commandTable.first { $0.name == name }! }
}

/// Every command, in the order help lists them.
let commandTable: [CommandSpec] = [
    CommandSpec(
        name: .send,
        summary: "Send files, directories, or - (standard input).",
        overview: """
            Send files, directories or standard input; exit 0 only when the receiver confirms that every \
            byte arrived intact and is durable on its disk.
            """,
        arguments: [
            ArgumentSpec(
                name: "PATH...",
                help: "A file; a directory (sent recursively, relative paths kept; symbolic links and special files "
                    + "inside it are skipped with a warning); or - for standard input, a stream of unknown length. "
                    + "A source that cannot be read, or whose name cannot be sent (not UTF-8, too long), is skipped "
                    + "with a message and the rest is sent (exit 23).",
                kind: .file
            ),
            ArgumentSpec(
                name: "HOST[:PORT]",
                help: "The receiver (default port \(Endpoint.defaultPort)); IPv6 as [ADDR]:PORT.",
                kind: .address
            ),
        ],
        footer: """
            SECONDS: from 0.001 to 1000000.

            EXIT STATUS:
            \(ExitCode.table)
              When several apply: the connection's failure; else the first failed stream's, in
              command-line order; else 73; else 23 (74 if nothing at all could be sent).
            """
    ),
    CommandSpec(
        name: .raw,
        summary: "Send one unframed stream to a plain TCP peer (nc -l, a printer): acknowledged by its TCP, "
            + "not confirmed by it.",
        overview: """
            Send one file or standard input, unframed, to a plain TCP peer (nc -l, a printer on port 9100, \
            a log collector) and report the strongest thing TCP can show: whether the peer's kernel \
            acknowledged every byte and the end of stream, and whether the peer then closed without a reset. \
            It cannot show that the peer *application* read the bytes: only xfer's own protocol can (send to \
            `xfer receive`, without --raw).
            """,
        arguments: [
            ArgumentSpec(
                name: "PATH|-",
                help: "A file (or a FIFO, a device) read to its end, or - for standard input.",
                kind: .file
            ),
            ArgumentSpec(
                name: "HOST:PORT",
                help: "The peer; the port is required (IPv6: [ADDR]:PORT).",
                kind: .address
            ),
        ],
        footer: """
            SECONDS: from 0.001 to 1000000.

            HOW: the bytes are streamed; once the peer's TCP acknowledged them all, shutdown(SHUT_WR) sends \
            the FIN (after both FINs a later reset is never seen). Meanwhile whatever the peer sends is read; \
            the send queue is watched (SIOCOUTQ, Linux only: what the peer's TCP has not acknowledged, the FIN \
            counting as one byte); the peer's end of stream is awaited; a reset (ECONNRESET, EPIPE) is noticed \
            at any point. Progress counts bytes the peer's TCP acknowledged, not bytes written. A peer whose \
            end of stream comes before ours was acknowledged only half-closed: the FIN waits up to 2 s more \
            for its reset, and it is never 0.

            EXIT STATUS:
              0   every byte and the end of stream were acknowledged by the peer's TCP, and then
                  the peer closed the connection without a reset
              80  every byte was acknowledged, so it reached the peer's kernel, but the peer
                  neither closed nor reset the connection within --timeout, or only half-closed
                  (before ours was acknowledged) and did not reset within the wait
              78  the peer reset the connection: the message says how many bytes its TCP had
                  acknowledged before (no more can be claimed); a reset discards what the
                  peer application had not read
              79  not every byte (or not the end of stream) was acknowledged within --timeout;
                  where SIOCOUTQ does not exist (not Linux), also after the peer closed: it
                  cannot be told
              64 usage error; 69 cannot connect; 70 the connection failed otherwise (the
              kernel gave up retransmitting, no route); 74 the source could not be read;
              130 interrupted. When the source was not fully written (79, 74, 130) the
              connection is reset, so the peer cannot take the part for the whole.
            """
    ),
    CommandSpec(
        name: .receive,
        summary: "Receive into a directory.",
        overview: """
            Receive files into a directory. Each file is written to a temporary name, checked, synced, \
            renamed into place and synced again before the sender is told it arrived. Serves until \
            interrupted, many senders at once.

            Protected mode: without a key, xfer receive listens only on loopback addresses (127.0.0.0/8, \
            ::1) unless told --no-auth: anyone who can reach the port could write into DIR.
            """,
        arguments: [],
        footer: """
            SECONDS: from 0.001 to 1000000.

            SIGINT or SIGTERM stops accepting, lets running commits finish (at most 10 s), keeps verified \
            partial files for resumes, and exits 0.
            """
    ),
    CommandSpec(
        name: .keygen,
        summary: "Write a new pre-shared key for --key (mode 0600).",
        overview: """
            Write a new pre-shared key (32 random bytes from getrandom, as text) to FILE, mode 0600. Give \
            the same file to both sides with --key (or XFER_KEY_FILE): the receiver then serves only senders \
            that prove the key, and the sender believes only a receiver that proves it. Copy it over a \
            secure channel (scp, a password manager).
            """,
        arguments: [
            ArgumentSpec(name: "FILE", help: "Where to write the key; it must not exist yet.", kind: .file)
        ],
        footer: ""
    ),
    CommandSpec(
        name: .state,
        summary: "List (or remove) the partial files a receiver keeps.",
        overview: """
            List the partial files of interrupted transfers that a receiver keeps in DIR/.xfer for resumes \
            (name, bytes, age); with --clean, remove them. Safe while a receiver runs: a partial being \
            written is left alone.
            """,
        arguments: [],
        footer: ""
    ),
    CommandSpec(
        name: .demo,
        summary: "A real transfer on loopback, shown; demo --naive shows plain TCP losing data a naive sender "
            + "believes sent, next to what --raw and xfer's protocol can honestly claim.",
        overview: """
            Start a receiver (a child `xfer receive --once` process) in a temporary directory on 127.0.0.1, \
            send it a file of random bytes over TCP, and show the receiver's confirmation and a byte-for-byte \
            comparison.

            With --naive: show the failure xfer exists for. A naive sender writes 1,000,000 bytes and closes \
            without reading the receiver's greeting; Linux resets the connection and the receiver loses data \
            the sender believes it sent. Then the same bytes with `xfer send --raw` and with `xfer send`, and \
            what each can honestly claim.
            """,
        arguments: [],
        footer: ""
    ),
    CommandSpec(
        name: .man,
        summary: "Print the manual page xfer(1) (roff): xfer man | man -l -",
        overview: "Print the manual page xfer(1) in roff, generated from the same table the parser reads.",
        arguments: [],
        footer: ""
    ),
    CommandSpec(
        name: .completions,
        summary: "Print completions for a shell: bash, zsh or fish.",
        overview: """
            Print a completion script for SHELL, generated from the same table the parser reads. \
            scripts/install.sh installs all three; by hand, for example: \
            xfer completions bash > /etc/bash_completion.d/xfer
            """,
        arguments: [
            ArgumentSpec(
                name: "SHELL",
                help: "bash, zsh or fish.",
                kind: .text,
                choices: ["bash", "zsh", "fish"]
            )
        ],
        footer: ""
    ),
]
