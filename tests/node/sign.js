// Mints a token with Node's jsonwebtoken, the way Sirv's and Express examples do:
//   node sign.js KEY_FILE PAYLOAD_JSON [OPTIONS_JSON]
// KEY_FILE holds a PEM private key (RS256) or the raw secret (HS256); OPTIONS_JSON holds
// jsonwebtoken's options (algorithm, default RS256; expiresIn; audience; keyid). Prints the token.
"use strict";

const fs = require("fs");
const jwt = require("jsonwebtoken");

const [keyFile, payloadJson, optionsJson] = process.argv.slice(2);
if (!keyFile || !payloadJson) {
  process.stderr.write("usage: node sign.js KEY_FILE PAYLOAD_JSON [OPTIONS_JSON]\n");
  process.exit(2);
}
const key = fs.readFileSync(keyFile);
const payload = JSON.parse(payloadJson);
const { algorithm = "RS256", expiresIn, audience, keyid } = JSON.parse(optionsJson || "{}");
const options = { algorithm };
if (expiresIn !== undefined) options.expiresIn = expiresIn;
if (audience !== undefined) options.audience = audience;
if (keyid !== undefined) options.keyid = keyid;
process.stdout.write(jwt.sign(payload, key, options) + "\n");
