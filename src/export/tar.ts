/**
 * A ustar archive of text files, built by hand (GET /api/export/{target}?format=tar): one 512-byte
 * header per file, its contents padded to 512 bytes, two zero blocks at the end. Folders of names
 * like `svc@0.service.d/instance.conf` get a directory entry first. Deterministic: mtime 0, owner 0,
 * modes 0644 / 0755, names in the order given.
 */

const BLOCK = 512;

function header(name: string, size: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`file name too long for a tar header: ${name}`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;
  h.write(base, 0, 100, 'utf8');
  h.write(octal(type === '5' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum counted as spaces
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

export function tar(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const [name, text] of Object.entries(files)) {
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = `${segments.slice(0, i).join('/')}/`;
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      parts.push(header(dir, 0, '5'));
    }
    const body = Buffer.from(text, 'utf8');
    parts.push(header(name, body.length, '0'), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}
