// The restricted unpickler: values decode like Python's, and nothing outside the allowlist is
// ever resolved, whatever opcode form the pickle uses to name it.
import { describe, expect, it } from 'vitest';
import { Cursor, memorySource } from '../src/weights/byteSource.ts';
import { UnpicklingError, unpickle } from '../src/weights/pickle.ts';
import { ForbiddenGlobalError, PyOrderedDict, resolveTorchGlobal } from '../src/weights/torchPickle.ts';

const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const load = (bytes: Uint8Array) => unpickle(new Cursor(memorySource(bytes, 'test.pkl'), 0), { resolveGlobal: resolveTorchGlobal });

// pickle.dumps(v, protocol=p) of
// {'a': [1, 2.5, None, True, False, 'xé', b'y', (1, 2), (3,), (), (4,5,6,7)], 'big': 2**70, 'neg': -1,
//  'i': 300, 'j': 70000, 'k': -70000}
const samples: Record<number, string> = {
  0: '286470300a56610a70310a286c70320a49310a6146322e350a614e614930310a614930300a615678e90a70330a61635f636f646563730a656e636f64650a70340a2856790a70350a566c6174696e310a70360a7470370a5270380a612849310a49320a7470390a612849330a747031300a612874612849340a49350a49360a49370a747031310a6173566269670a7031320a4c313138303539313632303731373431313330333432344c0a73566e65670a7031330a492d310a7356690a7031340a493330300a73566a0a7031350a4937303030300a73566b0a7031360a492d37303030300a732e',
  2: '80027d71002858010000006171015d7102284b014740040000000000004e8889580300000078c3a97103635f636f646563730a656e636f64650a7104580100000079710558060000006c6174696e3171068671075271084b014b028671094b0385710a29284b044b054b064b0774710b655803000000626967710c8a0900000000000000004058030000006e6567710d4affffffff580100000069710e4d2c0158010000006a710f4a7011010058010000006b71104a90eefeff752e',
  4: '80049570000000000000007d94288c0161945d94284b014740040000000000004e88898c0378c3a994430179944b014b0286944b03859429284b044b054b064b077494658c03626967948a090000000000000000408c036e6567944affffffff8c0169944d2c018c016a944a701101008c016b944a90eefeff752e',
};

describe('unpickle', () => {
  for (const [protocol, h] of Object.entries(samples)) {
    it(`decodes protocol ${protocol} values like Python`, () => {
      const v = load(hex(h)) as Map<string, unknown>;
      expect(v).toBeInstanceOf(Map);
      expect([...v.keys()]).toEqual(['a', 'big', 'neg', 'i', 'j', 'k']);
      expect(v.get('a')).toEqual([1, 2.5, null, true, false, 'xé', new Uint8Array([0x79]), [1, 2], [3], [], [4, 5, 6, 7]]);
      expect(v.get('big')).toBe(2n ** 70n);
      expect([v.get('neg'), v.get('i'), v.get('j'), v.get('k')]).toEqual([-1, 300, 70000, -70000]);
    });
  }

  it('builds collections.OrderedDict in insertion order', () => {
    const d = load(hex('800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000007a71024b0158010000006171034b02752e'));
    expect(d).toBeInstanceOf(PyOrderedDict);
    expect([...(d as Map<string, number>)]).toEqual([
      ['z', 1],
      ['a', 2],
    ]);
  });

  it('stops after STOP so back-to-back pickles can be read in sequence', () => {
    const cursor = new Cursor(memorySource(hex('80024b012e80024b022e')), 0);
    const opts = { resolveGlobal: resolveTorchGlobal };
    expect([unpickle(cursor, opts), unpickle(cursor, opts), cursor.pos]).toEqual([1, 2, 10]);
  });

  // Each names a dangerous callable a different way; all must fail at name resolution.
  const evil: [string, string, string][] = [
    ['GLOBAL (protocol 0)', "cos\nsystem\n(S'echo pwned'\ntR.", 'os.system'],
    ['GLOBAL posix (what torch.save writes on Linux)', 'cposix\nsystem\n(Vx\ntR.', 'posix.system'],
    ['GLOBAL builtins.eval', 'cbuiltins\neval\n(Vx\ntR.', 'builtins.eval'],
    ['STACK_GLOBAL (protocol 4)', '\x80\x04\x8c\x08builtins\x8c\x04exec\x93\x8c\x01x\x85R.', 'builtins.exec'],
    ['a torch function that is not a rebuild helper', 'ctorch\nload\n(Vx\ntR.', 'torch.load'],
    ['a near-miss of an allowed name', 'ccollections\nOrderedDictX\n)R.', 'collections.OrderedDictX'],
  ];
  for (const [what, text, name] of evil) {
    it(`refuses ${what}`, () => {
      const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
      expect(() => load(bytes)).toThrow(ForbiddenGlobalError);
      expect(() => load(bytes)).toThrow(`'${name}'`);
    });
  }

  it('refuses INST/OBJ/NEWOBJ_EX and extension-registry opcodes outright', () => {
    for (const op of ['i', 'o', '\x92', '\x82']) {
      expect(() => load(Uint8Array.from(`(${op}`, (c) => c.charCodeAt(0)))).toThrow(/not allowed/);
    }
  });

  it('refuses REDUCE on something that is not an allowed callable', () => {
    expect(() => load(hex('4b01295229'))).toThrow(/not an allowed callable/);
  });

  it('reports truncation, bad memo references and unknown opcodes clearly', () => {
    expect(() => load(hex('80025803000000616263'))).toThrow(/test\.pkl: truncated/);
    expect(() => load(hex('8002680a2e'))).toThrow(/memo key 10/);
    expect(() => load(hex('8002ff'))).toThrow(/unknown pickle opcode 0xff/);
    expect(() => load(hex('80022e'))).toThrow(UnpicklingError);
  });

  it('refuses persistent ids when the caller does not expect them', () => {
    expect(() => load(hex('80024b0151'))).toThrow(/persistent ids are not allowed/);
  });
});
