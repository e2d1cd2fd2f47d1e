"""MySQL's file-name encoding of schema and table names (the `filename` character set), decoded like the server.

`@` + a two-character code stands for a letter of the blocks below; `@` + four hex digits for any other code point;
other characters are literal. The code table was generated from a live server (MariaDB 10.11,
`CONVERT(CONVERT(CHAR(cp USING utf32) USING filename) USING binary)` for every code point of the blocks; MySQL's
table is the same) and is round-trip tested against the live server in the integration suite.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

#: (first code point, codes): the i-th two-character slice is the code of `first + i`; two spaces = no code
#: (e.g. U+00D7 and U+01C5 are written with four hex digits).
_BLOCKS: Final = (
    (0x00C0, (
        "0G0H0I0J0K0L0M0N0O0P0Q0R0S0T0U0V0W0X0Y0Z1G1H1I  1K1L1M1N1O1P1Q1j0g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v"
        "0w0x0y0z1g1h1i  1k1l1m1n1o1p1q1r1S1s1T1t1U1u1V1v1W1w1X1x1Y1y1Z1z2G2g2H2h2I2i2J2j2K2k2L2l2M2m2N2n"
        "2O2o2P2p2Q2q2R2r2S2s2T2t2U2u2V2v  2w2X2x2Y2y2Z2z3g3H3h3I3i3J3j3K3k3L3l3M3m3N3n3O3o3p3Q3q3R3r3S3s"
        "3T3t3U3u3V3v3W3w3X3x3Y3y3Z3z4G4g4H4h4I4i4J4j4K4k4L4l4M4m4N4n4O4o4P4p4Q4q4R4r4S4s1R4T4t4U4u4V4v4w"
        "gaQfHahaIaiaRfJajaTfUfKakalaZbWfYfMamaJgMgnaSgRgOaoapaqaYgHhraKhSasaTataUauaVhVavaYhwaxaYayaJiZa"
        "zaLiMiGbgbHbhbTiIbibjbkbNbnbmb          Ob  obPb  pbQb  qbRbrbSbsbTbtbUbubVbvbWbwbXbxbYbybzbGcgc"
        "HchcIcicJcjcKckcLclcMcmcNcncOcocpcQc  qcRcrcNa  ScscTctcUcucVcvcWcwcXcxcYcycZczcGdgdHdhdIdidJdjd"
        "KdkdLdldMdmdNdndOdodPdpdQdqdRdrdRasdTdtdUdudVdvdWdwdXdxdYdydZdzdGegeHeheiejekelemeneOePepePaQere"
        "seVi                            nfofpfqfrfsftfufvfwfxfyfzfgghgigjgkglgmgngogpgqgrgsgtgugvgwgxgyg"
        "zgghhhihjhkhlhmhnhohphqhrhshthuhvhwhxhyhzhgihiiijikiliminioipiqirisitiuiviwixiyizigjhjijjjkjljmj"
        "njojpjqjrjsjtjujvjwjxjyjzjgkhkik                                                                "
        "                                                                                                "
        "                                                                                                "
        "                                                                                                "
        "                                                                            6G  6H6I6J  7S  7T7U"
        "5y6L7W6N6O6P6Q6R7X6T8W6V6W6X6Y6Z8I7H  8Y7K7L8H7N7O7P7Q7R6g6h6i6j6k6l6m6n6o6p6q6r6s6t6u6v6w6x6y6z"
        "7g7h7i7j7k7l7m7n7o7p7q7r7s7t7u  7w7x7Y7Z8G8h8i8j  8k8L8l8M8m8N8n8O8o8P8p8Q8q8R8r8S8s8T8t8U8u8V8v"
        "8w8x8y8z  9g9h  9i    9j9k9L9M9NS1T1U1V1W1X1Y1Z1G2H2I2J2K2L2M2N2G0H0I0J0K0L0M0N0O0P0Q0R0S0T0U0V0"
        "W0X0Y0Z0G1H1I1J1K1L1M1N1O1P1Q1R1g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v0w0x0y0z0g1h1i1j1k1l1m1n1o1p1q1r1"
        "s1t1u1v1w1x1y1z1g2h2i2j2k2l2m2n2O2o2P2p2Q2q2R2r2S2s2T2t2U2u2V2v2W2w2X2x2Y2y2Z2z2G3g3H3h3I3i3J3j3"
        "K3k3                M3m3N3n3O3o3P3p3Q3q3R3r3S3s3T3t3U3u3V3v3W3w3X3x3Y3y3Z3z3G4g4H4h4I4i4J4j4K4k4"
        "L4l4M4m4N4n4O4o4P4p4Q4q4R4r4S4s4T4U4u4V4v4W4w4X4x4Y4y4Z4z4G5g5  I5i5J5j5K5k5L5l5M5m5N5n5O5o5P5p5"
        "Q5q5R5r5S5s5T5t5U5u5V5v5W5w5X5x5Y5y5Z5z5G6g6H6h6I6i6            P6p6Q6q6R6r6S6s6T6t6U6u6V6v6W6w6"
        "                                                                  H7I7J7K7L7M7N7O7P7Q7R7S7T7U7V7"
        "W7X7Y7Z7G8H8I8J8K8L8M8N8O8P8Q8R8S8T8U8V8W8X8                      h7i7j7k7l7m7n7o7p7q7r7s7t7u7v7"
        "w7x7y7z7g8h8i8j8k8l8m8n8o8p8q8r8s8t8u8v8w8x8                                                    "
        "                                                                                                "
        "                                                                                                "
    )),
    (0x1E00, (
        "GlglHlhlIlilJljlKlklLlllMlmlNlnlOlolPlplQlqlRlrlSlslTltlUlulVlvlWlwlXlxlYlylZlzlGmgmHmhmImimJmjm"
        "KmkmLmlmMmmmNmnmOmomPmpmQmqmRmrmSmsmTmtmUmumVmvmWmwmXmxmYmymZmzmGngnHnhnIninJnjnKnknLnlnMnmnNnnn"
        "GponPnpnQnqnRnrnSnsnTntnUnunVnvnWnwnXnxnYnynZnznGogoHohoIoioJojoKokoLoloMomoNonoOoooPopoQoqoRoro"
        "SosoTotoUouovowoxoyozogp        LplpMpmpNpnpOpopPpppQpqpRprpSpspTptpUpupVpvpWpwpXpxpYpypZpzpGqgq"
        "HqhqIqiqJqjqKqkqLqlqMqmqNqnqOqoqPqpqQqqqRqrqSqsqTqtqUquqVqvqWqwqXqxqYqyqZqzqGrgrHrhrIrirJrjrKrkr"
        "LrlrMrmrNrnrOrorPrpr            gshsisjskslsmsnsGsHsIsJsKsLsMsNsospsqsrsssts    OsPsQsRsSsTs    "
        "yszsgthtitjtktltYsZsGtHtItJtKtLtmtntotptqtrtstttMtNtOtPtQtRtStTtutvtwtxtytzt    UtVtWtXtYtZt    "
        "kulumunuoupuquru  Lu  Nu  Pu  RuwuxuyuzugvhvivjvWuXuYuZuGvHvIvJvkvlvmvnvovpvqvrvsvtvuvvvwvxv    "
        "gwhwiwjwkwlwmwnwGwHwIwJwKwLwMwNwowpwqwrwswtwuwvwOwPwQwRwSwTwUwVwwwxwywzwgxhxixjxWwXwYwZwGxHxIxJx"
        "kxlxmxnxox  qxrxKxLxKvLvNx          sxtxux  wxxxMvNvOvPvTx      yxzxgyhy    kylyYxZxQvRv        "
        "nyoypyqyrysytyuyNyOyUvVvSy          xyyy    hzizSvTvWvXvYy      "
    )),
    (0x2160, (
        "G9H9I9J9K9L9M9N9O9P9Q9R9S9T9U9V9g9h9i9j9k9l9m9n9o9p9q9r9s9t9u9v9"
    )),
    (0x24B0, (
        "            @A@B@C@D@E@F@G@H@I@J@K@L@M@N@O@P@Q@R@S@T@U@V@W@X@Y@Z@a@b@c@d@e@f@g@h@i@j@k@l@m@n@o@p"
        "@q@r@s@t@u@v@w@x@y@z            "
    )),
    (0xFF20, (
        "  A@B@C@D@E@F@G@H@I@J@K@L@M@N@O@P@Q@R@S@T@U@V@W@X@Y@Z@            a@b@c@d@e@f@g@h@i@j@k@l@m@n@o@"
        "p@q@r@s@t@u@v@w@x@y@z@          "
    )),
)


def _codes() -> dict[str, str]:
    table: dict[str, str] = {}
    for first, parts in _BLOCKS:
        codes = "".join(parts)
        for index in range(0, len(codes), 2):
            code = codes[index:index + 2]
            if code != "  ":
                table[code] = chr(first + index // 2)
    return table


#: Two-character code → letter.
CODES: Final = MappingProxyType(_codes())
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def decode_filename(name: str) -> str:
    """Decode an encoded name (`my@002ddb` → `my-db`, `@@a` → `ⓐ`, `@9500@552e` → `销售`). Like the server, the
    two characters after `@` are looked up in the code table first and only then read as four hex digits; an
    `@` that starts neither stays literal."""
    out: list[str] = []
    index, size = 0, len(name)
    while index < size:
        char = name[index]
        if char == "@":
            pair = name[index + 1:index + 3]
            if len(pair) == 2 and pair in CODES:
                out.append(CODES[pair])
                index += 3
                continue
            if pair == "@@":
                index += 3      # `@@@`: the server's end marker of old names, no character
                continue
            digits = name[index + 1:index + 5]
            if len(digits) == 4 and set(digits) <= _HEX:
                out.append(chr(int(digits, 16)))
                index += 5
                continue
        out.append(char)
        index += 1
    return "".join(out)
