import XCTest

@testable import Faultline

/// `StreamRedactor`: every case is fed whole, split in two at every position and byte by byte
/// (`assertSameOutcomeSplitAnywhere`), and must give the same bytes every way, of the same length.
final class StreamRedactorTests: XCTestCase {
    // MARK: RESP AUTH

    func testRESPAuthPassword() {
        check("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n",
              "*2\r\n$4\r\nAUTH\r\n$6\r\n******\r\n")
    }

    func testRESPAuthUserPasswordRedactsOnlyThePassword() {
        check("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\nsecret\r\n",
              "*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\n******\r\n")
    }

    func testRESPCommandNameIgnoresCase() {
        check("*2\r\n$4\r\nauth\r\n$2\r\npw\r\n*2\r\n$4\r\nAuTh\r\n$2\r\npw\r\n",
              "*2\r\n$4\r\nauth\r\n$2\r\n**\r\n*2\r\n$4\r\nAuTh\r\n$2\r\n**\r\n")
    }

    func testRESPPasswordWithCRLFAndAnyByteInside() {
        check("*2\r\n$4\r\nAUTH\r\n$11\r\na\r\n\r\n*2\r\n$\0\r\n*1\r\n$4\r\nPING\r\n",
              "*2\r\n$4\r\nAUTH\r\n$11\r\n***********\r\n*1\r\n$4\r\nPING\r\n")
    }

    func testRESPLongAuthRedactsEveryArgument() {
        // Redis refuses it, but the arguments may still be secrets.
        check("*4\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$2\r\npw\r\n$1\r\nx\r\n",
              "*4\r\n$4\r\nAUTH\r\n$1\r\n*\r\n$2\r\n**\r\n$1\r\n*\r\n")
        check("*1\r\n$4\r\nAUTH\r\n*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nAUTH\r\n*1\r\n$4\r\nPING\r\n")
    }

    func testPipelinedAuthThenCommandsRedactsOnlyThePassword() {
        let input = "*2\r\n$4\r\nAUTH\r\n$4\r\npass\r\n*2\r\n$3\r\nGET\r\n$4\r\nAUTH\r\n"
            + "*3\r\n$3\r\nSET\r\n$4\r\nauth\r\n$4\r\npass\r\n*2\r\n$4\r\nECHO\r\n$4\r\nAUTH\r\n"
        check(input, input.replacingFirst("$4\r\npass", with: "$4\r\n****"))
    }

    func testEmptyPasswordAndZeroLengthBulks() {
        check("*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n*2\r\n$0\r\n\r\n$0\r\n\r\n*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n",
              "*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n*2\r\n$0\r\n\r\n$0\r\n\r\n*2\r\n$4\r\nAUTH\r\n$1\r\n*\r\n")
    }

    // MARK: RESP HELLO

    func testHelloWithAuthAndSetname() {
        check("*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$6\r\nsecret\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n",
              "*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$6\r\n******\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n")
    }

    func testHelloAuthAfterSetname() {
        check("*7\r\n$5\r\nhello\r\n$1\r\n3\r\n$7\r\nsetname\r\n$4\r\nAUTH\r\n$4\r\nauth\r\n$4\r\nuser\r\n$2\r\npw\r\n",
              "*7\r\n$5\r\nhello\r\n$1\r\n3\r\n$7\r\nsetname\r\n$4\r\nAUTH\r\n$4\r\nauth\r\n$4\r\nuser\r\n$2\r\n**\r\n")
    }

    func testHelloUserNamedAuthDoesNotMoveThePassword() {
        check("*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$4\r\nAUTH\r\n$4\r\nAUTH\r\n",
              "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$4\r\nAUTH\r\n$4\r\n****\r\n")
    }

    func testHelloWithoutAuthIsUntouched() {
        let input = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$5\r\nHELLO\r\n*4\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$7\r\nSETNAME\r\n$4\r\nAUTH\r\n"
        check(input, input)
    }

    // MARK: what redis-py 5.3.1 sends (captured from a socket, written out literally)

    func testRedisPy5AuthUserPass() {
        // r = redis.Redis(...); r.execute_command("AUTH", "user", "pass"), after redis-py's
        // CLIENT SETINFO pair; Redis(username=, password=) sends the same AUTH first thing.
        let sent = "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$8\r\nredis-py\r\n"
            + "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$7\r\nLIB-VER\r\n$5\r\n5.3.1\r\n"
            + "*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$4\r\npass\r\n"
        check(sent, sent.replacingFirst("$4\r\npass\r\n", with: "$4\r\n****\r\n"))
    }

    func testRedisPy5HelloAuthSetname() {
        // r.execute_command("HELLO", 3, "AUTH", "user", "pass", "SETNAME", "x")
        let sent = "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$8\r\nredis-py\r\n"
            + "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$7\r\nLIB-VER\r\n$5\r\n5.3.1\r\n"
            + "*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$4\r\npass\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n"
        check(sent, sent.replacingFirst("$4\r\npass\r\n", with: "$4\r\n****\r\n"))
    }

    // MARK: inline commands

    func testInlineAuth() {
        check("AUTH secret\r\n", "AUTH ******\r\n")
        check("auth secret\n", "auth ******\n")
        check("  AUTH\tsecret  \r\nPING\r\n", "  AUTH\t******  \r\nPING\r\n")
    }

    func testInlineAuthUserPassRedactsBothArguments() {
        // The first argument is the password of `AUTH pass` or the user of `AUTH user pass`;
        // which one is only known at the end of the line, after it is written.
        check("AUTH alice secret\r\nGET k\r\n", "AUTH ***** ******\r\nGET k\r\n")
    }

    func testInlineAuthWithQuotes() {
        check("AUTH \"a b\\\"c\"\r\n", "AUTH ********\r\n")
        check("AUTH 'it''s'\r\n", "AUTH *******\r\n")
    }

    func testInlineHello() {
        check("HELLO 3 AUTH user pass SETNAME x\r\n", "HELLO 3 AUTH user **** SETNAME x\r\n")
        check("hello 3 setname AUTH auth user pw\n", "hello 3 setname AUTH auth user **\n")
        check("HELLO 3 AUTH \"my user\" \"p w\"\r\n", "HELLO 3 AUTH \"my user\" *****\r\n")
        check("HELLO 3 \"AUTH\" u 'p\\'w'\r\n", "HELLO 3 \"AUTH\" u ******\r\n")
        check("HELLO 3\r\nHELLO 2 SETNAME AUTH\r\n", "HELLO 3\r\nHELLO 2 SETNAME AUTH\r\n")
    }

    func testInlineLookalikesAreUntouched() {
        let input = "AUTHX pass\r\nGET AUTH\r\nECHO AUTH pass\r\nHELLOS 3 AUTH u p\r\nAUTH\r\n"
        check(input, input)
    }

    // MARK: HTTP headers

    func testAuthorizationKeepsTheScheme() {
        check("Authorization: Bearer abc.def\r\n", "Authorization: Bearer *******\r\n")
        check("authorization:Basic dXNlcjpwYXNz\r\n", "authorization:Basic ************\r\n")
        check("AUTHORIZATION: \t DIGEST username=\"u\", response=\"x\"\r\n",
              "AUTHORIZATION: \t DIGEST **************************\r\n")
        check("Proxy-Authorization: Basic cHJveHk6cHc=\r\n", "Proxy-Authorization: Basic ************\r\n")
        check("proxy-AUTHORIZATION:bearer t\n", "proxy-AUTHORIZATION:bearer *\n")
    }

    func testAuthorizationWithoutAKnownSchemeIsAllRedacted() {
        // A bare token: only the bytes that spelled a prefix of a scheme name stay (`s` of
        // `scram-sha-1`; `e` starts no scheme).
        check("Authorization: sk-live-1234\r\n", "Authorization: s***********\r\n")
        check("Authorization: eyJhbGciOiJIUzI1NiJ9\r\n", "Authorization: ********************\r\n")
        check("Authorization: Bearerx y\r\n", "Authorization: Bearer***\r\n")
        check("Authorization: Bas abc\r\n", "Authorization: Bas****\r\n")
        check("Authorization: Custom abc\r\n", "Authorization: **********\r\n")
    }

    func testCookieRedactsNamesAndValuesKeepingItsShape() {
        check("Cookie: a=1; session=xyz\r\n", "Cookie: *=*; *******=***\r\n")
        check("cookie:a=1;b=22\r\n", "cookie:*=*;*=**\r\n")
        check("COOKIE:   a=\"q\"; b=; c=3\r\n", "COOKIE:   *=***; *=; *=*\r\n")
    }

    func testSetCookieRedactsOnlyTheFirstValue() {
        check("Set-Cookie: sid=abc123; Path=/; HttpOnly; Max-Age=3600\r\n",
              "Set-Cookie: ***=******; Path=/; HttpOnly; Max-Age=3600\r\n")
        check("set-cookie:sid=abc\r\n", "set-cookie:***=***\r\n")
        check("SET-COOKIE:  a=b=c;Secure\n", "SET-COOKIE:  *=***;Secure\n")
    }

    func testApiKeyIsAllRedacted() {
        check("X-Api-Key: k-123 456\r\n", "X-Api-Key: *********\r\n")
        check("x-api-key:k\r\n", "x-api-key:*\r\n")
        check("X-API-KEY :  key\r\n", "X-API-KEY :  ***\r\n")
    }

    /// A cookie without `=` is its bare value (browsers send one a server set without a name):
    /// names are redacted too, as a name cannot be told from such a value before its end.
    func testCookieWithoutEqualsIsAllRedacted() {
        check("Cookie: HCOOK31\r\n", "Cookie: *******\r\n")
        check("Cookie: a=1; bare; b=2\r\n", "Cookie: *=*; ****; *=*\r\n")
        check("Cookie: =a; ;b=x;c\r\n", "Cookie: =*; ;*=*;*\r\n")
    }

    func testOtherHeadersAndLookalikeNamesAreUntouched() {
        let input = "GET / HTTP/1.1\r\nHost: h\r\nX-Api-Keys: a\r\nMyCookie: a=1\r\nCookies: a=1\r\n"
            + "Authorization-Info: x\r\nAccept: */*\r\nX-Cookie: a=1\r\n\r\n"
        check(input, input)
    }

    func testCurlHeadWithUserAndCookies() {
        // curl 7.88.1 -u user:pass -b 'a=1; sid=xyz' http://127.0.0.1:52983/, captured with a socket.
        check("GET / HTTP/1.1\r\nHost: 127.0.0.1:52983\r\nAuthorization: Basic dXNlcjpwYXNz\r\n"
                + "User-Agent: curl/7.88.1\r\nAccept: */*\r\nCookie: a=1; sid=xyz\r\n\r\n",
              "GET / HTTP/1.1\r\nHost: 127.0.0.1:52983\r\nAuthorization: Basic ************\r\n"
                + "User-Agent: curl/7.88.1\r\nAccept: */*\r\nCookie: *=*; ***=***\r\n\r\n")
    }

    func testResponseSetCookies() {
        check("HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nset-cookie: b=22\r\nContent-Length: 0\r\n\r\n",
              "HTTP/1.1 200 OK\r\nSet-Cookie: *=*; Path=/\r\nset-cookie: *=**\r\nContent-Length: 0\r\n\r\n")
    }

    func testFoldedContinuationOfASecretHeaderIsRedacted() {
        check("Authorization: Bearer\r\n  abc\r\n\tdef\r\nAccept: x\r\n  y\r\n",
              "Authorization: Bearer\r\n*****\r\n****\r\nAccept: x\r\n  y\r\n")
    }

    func testOnlyTheLineRightAfterASecretHeaderIsAFold() {
        check("Cookie: a=1\r\n*1\r\n$4\r\nPING\r\n GET k\r\n", "Cookie: *=*\r\n*1\r\n$4\r\nPING\r\n GET k\r\n")
        check("Cookie: a=1\r\nAccept: x\r\n y\r\n", "Cookie: *=*\r\nAccept: x\r\n y\r\n")
    }

    func testBareCRInAValueDoesNotEndTheRedaction() {
        check("X-Api-Key: ab\rcd\r\n", "X-Api-Key: **\r**\r\n")
    }

    func testBodyLineLookingLikeASecretHeaderIsRedacted() {
        // Documented over-redaction: the scanner does not follow Content-Length.
        check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 25\r\n\r\nline\nCookie: a=1\nAUTH pw\n",
              "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 25\r\n\r\nline\nCookie: *=*\nAUTH **\n")
    }

    func testRESPLookalikeInAnHTTPBodyDoesNotHideTheNextRequest() {
        // After `Host:`, `*`/`$` lines are not RESP: a `$9999` in a body skips nothing.
        let input = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n\r\n*1\r\n$9999\r\nxx"
            + "GET / HTTP/1.1\r\nHost: h\r\nCookie: s=secret\r\n\r\n"
        check(input, input.replacingFirst("s=secret", with: "*=******"))
    }

    func testStatusLineTurnsRESPFramingOff() {
        // The response direction: `HTTP/` is its first line, so a RESP-looking body skips nothing.
        let input = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n*1\r\n$9999\r\nxx"
            + "HTTP/1.1 200 OK\r\nSet-Cookie: s=secret; Path=/\r\n\r\n"
        check(input, input.replacingFirst("s=secret", with: "*=******"))
    }

    func testBulkPayloadsAreSkippedByLength() {
        // A value that looks like a header or an inline AUTH is data, not a line.
        let value = "x\r\nCookie: a=1\r\nAUTH pw\r\n*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"
        let input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(value.utf8.count)\r\n\(value)\r\n"
        check(input, input)
    }

    // MARK: garbage

    func testHugeAndMalformedLengthsDoNotTrap() {
        for input in [
            "*99999999999999999999\r\n$4\r\nAUTH\r\n", "*2\r\n$99999999999999999999\r\nAUTH x\r\n",
            "*2\r\n$9223372036854775807\r\n", "*9223372036854775808\r\n", "*-1\r\n*0\r\n*-\r\n*\r\n",
            "*2\r\n$-1\r\n$-5\r\n$\r\n$x\r\n", "*2\n$4\nAUTH\n$2\npw\n", "*2\r\n$4\r\nAUTHxx$2\r\npw\r\n",
            "*3\r\n*2\r\n$4\r\nAUTH\r\n:1\r\n+OK\r\n%1\r\n_\r\n,1.5\r\n#t\r\n=5\r\ntxt:x\r\n", "*2\r\0\n\n\r",
        ] {
            let bytes = Array(input.utf8)
            let out = assertSameOutcomeSplitAnywhere(bytes) { redacted(bytes, $0) }
            XCTAssertEqual(out.count, bytes.count, input)
        }
        // Garbage does not hide what follows its line.
        check("*2\r\n$99999999999999999999\r\nAUTH pw\r\n", "*2\r\n$99999999999999999999\r\nAUTH **\r\n")
    }

    func testNestedArraysAndRESP3RepliesPassUntouched() {
        let input = "*2\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n%2\r\n+a\r\n:1\r\n+b\r\n(123\r\n>2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"
        check(input, input)
    }

    func testBinaryNoiseKeepsLengthsAndDoesNotDependOnSlicing() {
        var random = RedactorNoise(seed: 42)
        let alphabet = Array("*$:\r\n 0123456789-AUTHauthHELLOCookie=;Authorization".utf8)
        for round in 0..<40 {
            let input = (0..<600).map { _ in
                round % 2 == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[Int(random.next() % UInt64(alphabet.count))]
            }
            let out = assertSameOutcomeSplitAnywhere(input) { redacted(input, $0) }
            XCTAssertEqual(out.count, input.count)
            for (a, b) in zip(input, out) where a != b { XCTAssertEqual(b, UInt8(ascii: "*")) }
        }
    }

    func testShuffledFragmentsDoNotDependOnSlicing() {
        // Pieces of every form the scanner knows, in random order: the fast paths (whole RESP
        // header lines, value runs) and the byte-wise states must always agree.
        let fragments = [
            "*2\r\n", "*3\r\n", "*7\r\n", "*-1\r\n", "$4\r\nAUTH\r\n", "$5\r\nHELLO\r\n", "$1\r\n3\r\n",
            "$7\r\nSETNAME\r\n", "$4\r\nuser\r\n", "$6\r\nsecret\r\n", "$3\r\na\r\n\r\n", "$0\r\n\r\n", "$-1\r\n",
            ":1\r\n", "+OK\r\n", "AUTH pw\r\n", "HELLO 3 AUTH u 'p w'\r\n", "Cookie: a=1; b=2\r\n",
            "Set-Cookie: s=x; Path=/\r\n", "Authorization: Bearer t\r\n", "authorization: zz\r\n",
            "X-Api-Key: k\r\n", " folded\r\n", "Host: h\r\n", "HTTP/1.1 200 OK\r\n", "\r\n", "\n", "\r",
            "plain text ", "$99999999999999\r\n", "*1", "\"", "'", ";", "=", ":",
        ].map { Array($0.utf8) }
        var random = RedactorNoise(seed: 3)
        for _ in 0..<150 {
            var input: [UInt8] = []
            while input.count < 300 { input += fragments[Int(random.next() % UInt64(fragments.count))] }
            let out = assertSameOutcomeSplitAnywhere(input) { redacted(input, $0) }
            XCTAssertEqual(out.count, input.count)
        }
    }

    func testMixedStreamInRandomSlices() {
        let (input, expected) = Self.mixedStream()
        XCTAssertEqual(redacted(input, [0..<input.count]), expected)
        var random = RedactorNoise(seed: 7)
        for _ in 0..<200 {
            var plan: [Range<Int>] = []
            var start = 0
            while start < input.count {
                let end = min(input.count, start + 1 + Int(random.next() % 40))
                plan.append(start..<end)
                start = end
            }
            XCTAssertEqual(redacted(input, plan), expected)
        }
    }

    func testNameTablesSpellTheirNames() {
        func names(_ table: SecretNameTable, _ count: Int) -> [String] { (0..<count).map(table.name) }
        XCTAssertEqual(SecretNames.firstWord.all, 0x1FF)
        XCTAssertEqual(names(SecretNames.firstWord, 9), [
            "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "host", "auth", "hello", "http/",
        ])
        XCTAssertEqual(SecretNames.firstWord.name(SecretNames.setCookie), "set-cookie")
        XCTAssertEqual(SecretNames.firstWord.name(SecretNames.http), "http/")
        XCTAssertEqual(names(SecretNames.redisWord, 3), ["auth", "hello", "setname"])
        XCTAssertEqual(SecretNames.schemes.all.nonzeroBitCount, 18)
        XCTAssertEqual(SecretNames.schemes.name(7), "aws4-hmac-sha256")
        // The first-letter filter lets through exactly the letters the names start with.
        var letters: UInt32 = 0
        for index in 0..<9 { letters |= 1 << UInt32(SecretNames.firstWord.name(index).utf8.first! - 0x61) }
        XCTAssertEqual(letters, SecretNames.firstLetters)
    }

    func testStateStaysSmall() {
        XCTAssertLessThanOrEqual(MemoryLayout<StreamRedactor>.size, 160, "copied in and out per chunk by LinkCapture")
    }

    // MARK: helpers

    /// A Redis session and an HTTP exchange as one direction would never carry them, but as a
    /// protocol-agnostic scanner must take them: the RESP part first, then HTTP.
    static func mixedStream() -> ([UInt8], [UInt8]) {
        let value = String(repeating: "v", count: 300)
        let input = "*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$8\r\np\r\nss\r\nw\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$300\r\n\(value)\r\n"
            + "AUTH inline\r\nGET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nCookie: a=1; b=2\r\n\r\n"
        let expected = "*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$8\r\n********\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$300\r\n\(value)\r\n"
            + "AUTH ******\r\nGET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ***\r\nCookie: *=*; *=*\r\n\r\n"
        return (Array(input.utf8), Array(expected.utf8))
    }

    /// `input` fed to one redactor in the slices `plan` names.
    func redacted(_ input: [UInt8], _ plan: [Range<Int>]) -> [UInt8] {
        var redactor = StreamRedactor()
        var bytes = input
        bytes.withUnsafeMutableBytes { buffer in
            for range in plan { redactor.redact(UnsafeMutableRawBufferPointer(rebasing: buffer[range])) }
        }
        return bytes
    }

    func check(_ input: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = Array(input.utf8)
        XCTAssertEqual(bytes.count, expected.utf8.count, "the expectation changes the length", file: file, line: line)
        let out = assertSameOutcomeSplitAnywhere(bytes, file: file, line: line) { redacted(bytes, $0) }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), expected, file: file, line: line)
    }
}

/// A small deterministic generator: the noise is the same on every run.
struct RedactorNoise {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
