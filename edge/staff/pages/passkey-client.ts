// The one script of the staff pages, served as /staff/passkeys.js: the passkey buttons. It asks the
// Worker for options, lets the browser make or use the passkey (PublicKeyCredential's JSON
// helpers), and sends the answer back; the Worker checks everything. Words come from the button's
// data attributes, so the page's language is the script's. Without it the pages work by password.
export const PASSKEY_CLIENT = String.raw`const status = document.getElementById('passkey-status');
const say = (text, error) => {
  status.textContent = text;
  status.className = error ? 'error' : 'hint';
  status.setAttribute('role', error ? 'alert' : 'status');
};

async function post(button, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (button.dataset.csrf) headers['x-csrf-token'] = button.dataset.csrf;
  const res = await fetch(path, { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(body || {}) });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(answer.detail || res.statusText), { status: res.status });
  return answer;
}

function wire(button, run) {
  if (!button) return;
  const pkc = window.PublicKeyCredential;
  if (!pkc || !pkc.parseCreationOptionsFromJSON || !pkc.parseRequestOptionsFromJSON) {
    say(button.dataset.unsupported, false);
    return;
  }
  button.hidden = false;
  button.addEventListener('click', async () => {
    button.disabled = true;
    say(button.dataset.working, false);
    try {
      await run(button);
    } catch (error) {
      const cancelled = error && (error.name === 'NotAllowedError' || error.name === 'AbortError');
      say(cancelled ? button.dataset.cancelled : error && error.status === 429 ? button.dataset.limited : button.dataset.refused, true);
      button.disabled = false;
    }
  });
}

wire(document.getElementById('passkey-add'), async (button) => {
  const options = await post(button, '/v1/auth/passkeys/registration-options');
  const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) });
  const name = (document.getElementById('passkey-name') || {}).value;
  await post(button, '/v1/auth/passkeys', { response: credential.toJSON(), ...(name && name.trim() ? { name: name.trim() } : {}) });
  location.assign('/staff?passkey=added');
});

wire(document.getElementById('passkey-sign-in'), async (button) => {
  const options = await post(button, '/v1/auth/passkeys/sign-in-options');
  const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
  await post(button, '/v1/auth/passkeys/sign-in', { response: credential.toJSON() });
  location.assign('/staff');
});
`;
