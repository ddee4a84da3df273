// Splits a command line into words the way a small shell does: whitespace separates words, single quotes
// keep everything literally, double quotes allow backslash escapes, and a backslash outside quotes escapes
// the next character. Case is kept. Words are never expanded (no globs, no variables).

export class ParseError extends Error {
  override name = 'ParseError';
}

export function tokenize(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ParseError(`unterminated ' quote starting at column ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (ch === '"') {
      const start = i;
      i++;
      inWord = true;
      for (;;) {
        if (i >= line.length) throw new ParseError(`unterminated " quote starting at column ${start + 1}`);
        const c = line[i];
        if (c === '"') break;
        if (c === '\\' && i + 1 < line.length) {
          word += line[i + 1];
          i += 2;
        } else {
          word += c;
          i++;
        }
      }
      i++;
    } else if (ch === '\\') {
      if (i + 1 >= line.length) throw new ParseError('a backslash at the end of the line escapes nothing');
      word += line[i + 1];
      inWord = true;
      i += 2;
    } else {
      word += ch;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Quotes a word so that tokenize() gives it back unchanged (for showing command lines). */
export function quoteWord(word: string): string {
  if (word !== '' && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
