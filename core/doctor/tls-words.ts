// TLS failures in plain words (docs/design.md §5): Node's and OpenSSL's texts ("self-signed
// certificate; if the root CA is installed locally, try running Node.js with
// --use-system-ca") never reach the Setup page; the code stays for the log.
export function tlsProblem(e: { code?: string; message?: string }, host: string): string {
  const code = e.code ?? '';
  const msg = e.message ?? '';
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || (/self[- ]signed certificate$|self[- ]signed certificate;/i.test(msg) && !/chain/i.test(msg)))
    return `${host} shows a self-made (self-signed) certificate that no certificate authority vouches for, so Postern cannot be sure it is talking to the real server`;
  if (code === 'SELF_SIGNED_CERT_IN_CHAIN' || /self[- ]signed certificate in certificate chain/i.test(msg))
    return `${host}'s certificate was issued by an authority this computer does not know (a private or company one)`;
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' || /unable to (verify|get local issuer)/i.test(msg))
    return `${host}'s certificate cannot be checked: it is missing the certificate of the authority that issued it (an incomplete chain)`;
  if (code === 'CERT_HAS_EXPIRED' || /certificate has expired/i.test(msg)) return `${host}'s certificate has expired`;
  if (code === 'CERT_NOT_YET_VALID') return `${host}'s certificate is not valid yet (check this computer's clock)`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /altnames|does not match certificate/i.test(msg)) return `${host}'s certificate is made out for another name`;
  if (/wrong version number|unknown protocol|packet length too long/i.test(msg))
    return `${host} did not answer with TLS on this port (port 465 uses TLS from the start, port 587 starts plain and switches with STARTTLS)`;
  if (/handshake failure|no protocols available|unsupported protocol/i.test(msg)) return `${host} and Postern found no TLS version or cipher they both accept`;
  return `the encrypted connection with ${host} failed`;
}
