import Foundation
import Testing

/// The folders of `Sources/Transfer` and `Sources/Framing` are layers that depend one way
/// (ARCHITECTURE.md): a file may name the types of its own folder and of the folders below
/// it, never of one beside or above. The compiler cannot see folders inside a module, so
/// this reads the sources: a type belongs to the folder whose file declares it at the top
/// level, and a file depends on a folder when its code (comments aside) names one of that
/// folder's types.
@Suite struct Layering {
    static let transfer: [String: Set<String>] = [
        "System": [],
        "Wire": ["System"],
        "Service": ["System", "Wire"],
        "Raw": ["System", "Wire"],
        "Sender": ["System", "Wire"],
        "Receiver": ["System", "Wire", "Service"],
    ]
    static let framing: [String: Set<String>] = ["Records": [], "Crypto": ["Records"]]

    /// Each Swift file under `module`, by the top folder it sits in.
    static func files(of module: String) -> [(folder: String, path: String, text: String)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/\(module)").path
        let paths = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return paths.filter { $0.hasSuffix(".swift") }.sorted().map { path in
            let folder = path.contains("/") ? String(path.split(separator: "/")[0]) : ""
            let text = (try? String(contentsOfFile: root + "/" + path, encoding: .utf8)) ?? ""
            return (folder, path, text)
        }
    }

    /// The layer violations in `module`: "file names Type (Folder)".
    static func violations(in module: String, allowed: [String: Set<String>]) -> [String] {
        let files = files(of: module)
        let declaration = try! Regex(
            #"^(?:public |package |internal |final )*(?:struct|class|enum|protocol|typealias|actor) ([A-Z]\w*)"#
        ).anchorsMatchLineEndings()
        var folderOf: [String: String] = [:]
        for file in files {
            for match in file.text.matches(of: declaration) {
                if let name = match.output[1].substring { folderOf[String(name)] = file.folder }
            }
        }
        let identifier = try! Regex(#"\b[A-Z]\w*\b"#)
        var found: [String] = []
        for file in files {
            let code = file.text.split(separator: "\n").map { line in
                line.range(of: "//").map { line[..<$0.lowerBound] } ?? line
            }.joined(separator: "\n")
            let named = Set(code.matches(of: identifier).map { String(code[$0.range]) })
            for type in named.sorted() {
                guard let folder = folderOf[type], folder != file.folder else { continue }
                if !(allowed[file.folder]?.contains(folder) ?? false) {
                    found.append("\(file.path) names \(type) (\(folder))")
                }
            }
        }
        return found
    }

    @Test("Every file of Transfer sits in a layer folder, and names no type of a layer beside or above it")
    func transferLayers() {
        let files = Self.files(of: "Transfer")
        #expect(files.count > 50)
        #expect(files.filter { Self.transfer[$0.folder] == nil }.map(\.path) == [])
        #expect(Self.violations(in: "Transfer", allowed: Self.transfer) == [])
    }

    @Test("No file outside System/ reads a FileDescriptor's raw descriptor")
    func rawDescriptorStaysInSystem() {
        let files = Self.files(of: "Transfer")
        var found: [String] = []
        for file in files where file.folder != "System" {
            for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains(".unixDescriptor") {
                found.append("\(file.path):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(found == [])
        // The property itself still exists under that name (the check would pass vacuously if renamed).
        #expect(files.contains { $0.folder == "System" && $0.text.contains("var unixDescriptor: CInt") })
    }

    @Test("Framing's records do not depend on its cryptography")
    func framingLayers() {
        let files = Self.files(of: "Framing")
        #expect(files.filter { Self.framing[$0.folder] == nil }.map(\.path) == [])
        #expect(Self.violations(in: "Framing", allowed: Self.framing) == [])
    }
}
