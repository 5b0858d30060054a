// Sends files from a program and reads the per-file verdicts; the receiver runs in this
// process too (on loopback), so the example needs nothing else.
//
//   swift run EmbedXfer TARGET_DIRECTORY FILE...
import Dispatch
import Framing
import Transfer

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count >= 2, let target = arguments.first else {
    print("usage: EmbedXfer TARGET_DIRECTORY FILE...")
    exit(64)
}

// Framing on its own: one record encoded and decoded, as a program speaking the protocol would.
var bytes: [UInt8] = []
try RecordEncoder.append(.end(End(totalLength: 5, digest: 42)), to: &bytes)
var decoder = RecordDecoder(expectingPreamble: false)
try decoder.feed(bytes) { message in
    if case .record(.end(let end)) = message {
        print("framing: END of \(end.totalLength) bytes, \(bytes.count) bytes on the wire")
    }
}

// A receiver: listen on loopback, serve one connection on a thread of its own.
let receiver = try Receiver(directory: target)
let address = try receiver.listen(on: Endpoint(host: "127.0.0.1", port: 0))
let served = DispatchSemaphore(value: 0)
try DetachedThread.start("the receiver") {
    receiver.serve(once: true) { _ in }
    served.signal()
}

// A sender: every file, one connection; the report holds each file's verdict.
let sources = SendSource.expand(Array(arguments.dropFirst())) { skip in print("skipped \(skip.path): \(skip.reason)") }
let report = Sender(endpoint: address).send(sources) { _ in }
for (name, delivery) in report.confirmed {
    print("confirmed \(name): \(delivery.bytes) bytes\(delivery.durable ? ", durable" : "")")
}
for (name, error) in report.failures {
    print("failed \(name): \(error)")
}
served.wait()
exit(report.succeeded ? 0 : 1)
