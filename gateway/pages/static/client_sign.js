// Signing with the signer's own certificate: the private key is read from a file the signer
// picks, imported into WebCrypto as non-extractable, and used here only. The server gets
// the certificate chain, and afterwards the signatures; never the key.
(function () {
  "use strict";
  const box = document.querySelector("[data-client-sign]");
  if (!box) {
    return;
  }
  const button = box.querySelector("[data-client-submit]");
  const errorLine = box.querySelector("[data-client-error]");
  const statusLine = box.querySelector("[data-client-status]");
  const text = box.dataset;
  // The preparations of the chain last sent: a retry with another key file (the wrong one
  // was picked) signs them again, since the intent token was spent on preparing them.
  let prepared = null;
  let preparedChain = null;

  function fail(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
    statusLine.textContent = "";
    button.disabled = false;
  }

  function fromBase64(value) {
    const raw = atob(value);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i += 1) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw);
  }

  // PKCS#8 DER, from a PEM "PRIVATE KEY" block or the file's bytes as they are.
  function pkcs8(bytes) {
    const asText = new TextDecoder().decode(bytes);
    const pem = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(asText);
    return pem ? fromBase64(pem[1].replace(/\s+/g, "")) : bytes;
  }

  // ECDSA P-256 first, else RSA; either way the key cannot be exported again.
  async function importKey(der) {
    const kinds = [
      [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
      [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
    ];
    for (const [algorithm, signing] of kinds) {
      try {
        const key = await crypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
        return { key, signing };
      } catch (ignored) {
        // not this kind of key: try the next
      }
    }
    return null;
  }

  async function post(action, body) {
    const reply = await fetch(text.base + "/client-sign/" + action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ csrf: text.csrf, ...body }),
    });
    const answer = await reply.json().catch(() => ({ error: reply.statusText }));
    if (!reply.ok) {
      throw new Error(answer.error || reply.statusText);
    }
    return answer;
  }

  button.addEventListener("click", async () => {
    errorLine.hidden = true;
    const chainFile = box.querySelector("[data-client-chain]").files[0];
    const keyFile = box.querySelector("[data-client-key]").files[0];
    if (!chainFile || !keyFile) {
      fail(text.textNoFiles);
      return;
    }
    if (!window.crypto || !crypto.subtle) {
      fail(text.textNoWebcrypto);
      return;
    }
    button.disabled = true;
    statusLine.textContent = text.textWorking;
    const imported = await importKey(pkcs8(new Uint8Array(await keyFile.arrayBuffer())));
    if (!imported) {
      fail(text.textBadKey);
      return;
    }
    box.dataset.keyExtractable = String(imported.key.extractable);
    try {
      const chain = await chainFile.text();
      if (!prepared || preparedChain !== chain) {
        prepared = await post("prepare", { chain });
        preparedChain = chain;
      }
      const signatures = [];
      for (const item of prepared.preparations) {
        const signature = await crypto.subtle.sign(imported.signing, imported.key, fromBase64(item.toBeSigned));
        signatures.push({ contractId: item.contractId, preparationId: item.preparationId,
                          signature: toBase64(signature) });
      }
      const done = await post("complete", { signatures });
      window.location.assign(done.next);
    } catch (problem) {
      fail(problem.message);
    }
  });
})();
