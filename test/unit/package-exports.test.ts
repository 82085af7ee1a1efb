import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8'));

describe('the package an application installs', () => {
  it('exports credflow/client from the build of src/client, with its type declarations', () => {
    const entry = pkg.exports['./client'];
    expect(entry).toEqual({
      types: './dist/src/client/index.d.ts',
      default: './dist/src/client/index.js',
    });
    // The build maps <file>.ts under the root to dist/<file>.js (rootDir "."), declarations on.
    const source = entry.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
    expect(existsSync(path.join(root, source))).toBe(true);
    expect(build.include).toContain(source.split('/')[0]);
    expect(build.compilerOptions.declaration).toBe(true);
    // npm pack builds first, and .npmignore (not .gitignore, which drops dist/) decides the files.
    expect(pkg.scripts.prepack).toMatch(/npm run build/);
    const npmignore = readFileSync(path.join(root, '.npmignore'), 'utf8').split('\n');
    expect(npmignore).not.toContain('dist/');
  });

  it('is imported in the README by the name it exports, and installed as the README says', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const imports = [...readme.matchAll(/from '(credflow(?:\/[^']*)?)'/g)].map((m) => m[1] ?? '');
    expect(imports.length).toBeGreaterThan(0);
    for (const spec of imports) expect(Object.keys(pkg.exports)).toContain(spec.replace(/^credflow/, '.'));
    // Not on a registry: the README says how to get it, by the tarball npm pack names.
    expect(pkg.private).toBe(true);
    expect(readme).toContain('npm pack');
    expect(readme).toContain(`npm install ./credflow/${pkg.name}-${pkg.version}.tgz`);
  });
});
