// The chaos test starts a fresh cloud process after every kill. Like ../support/register-ts.js
// this runs the project's TypeScript without a build, but with esbuild's transform and an
// on-disk cache of the output (keyed by path, size and mtime), so a respawn costs module
// loading only, not a TypeScript compile of every file.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const esbuild = require('esbuild');

const cacheDir = path.join(os.tmpdir(), `credflow-ts-cache-${process.getuid?.() ?? 'user'}`);
fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });

require.extensions['.ts'] = (module, filename) => {
  const st = fs.statSync(filename);
  const key = crypto.createHash('sha256').update(`${filename}\0${st.size}\0${st.mtimeMs}`).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    code = esbuild.transformSync(fs.readFileSync(filename, 'utf8'), {
      loader: 'ts',
      format: 'cjs',
      target: 'es2022',
      sourcefile: filename,
      sourcemap: 'inline',
    }).code;
    // Write then rename: two processes compiling the same file never leave half a file.
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code, { mode: 0o600 });
    fs.renameSync(tmp, cached);
  }
  module._compile(code, filename);
};
