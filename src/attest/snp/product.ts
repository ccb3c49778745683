/**
 * What cloister knows about AMD's SEV-SNP product lines, in tables: the pinned root of each line,
 * the names of its certificates, how its CPUs identify themselves in a report, and how its
 * TCB_VERSION is laid out.
 */

/**
 * The TCB components of a TCB_VERSION (SEV-SNP ABI spec §2.2 "TCB_VERSION"), with the VCEK/VLEK
 * extension that certifies each (VCEK Certificate and KDS Interface Specification §3.1, OID arc
 * 1.3.6.1.4.1.3704.1.3) and the query parameter that asks AMD's KDS for it (ibid. §4.1).
 *
 * @example `TCB_COMPONENTS.microcode.oid` → `'1.3.6.1.4.1.3704.1.3.8'`
 */
export const TCB_COMPONENTS = {
  fmc: { oid: '1.3.6.1.4.1.3704.1.3.9', kdsParam: 'fmcSPL' },
  bootloader: { oid: '1.3.6.1.4.1.3704.1.3.1', kdsParam: 'blSPL' },
  tee: { oid: '1.3.6.1.4.1.3704.1.3.2', kdsParam: 'teeSPL' },
  snp: { oid: '1.3.6.1.4.1.3704.1.3.3', kdsParam: 'snpSPL' },
  microcode: { oid: '1.3.6.1.4.1.3704.1.3.8', kdsParam: 'ucodeSPL' },
} as const;

/** A TCB component name. @example `const c: TcbComponent = 'snp'` */
export type TcbComponent = keyof typeof TCB_COMPONENTS;

/**
 * Byte positions of the components in the 8-byte little-endian TCB_VERSION. Milan and Genoa use
 * the original layout (SEV-SNP ABI spec §2.2, Table 3: BOOT_LOADER, TEE, 4 reserved bytes, SNP,
 * MICROCODE); Turin adds the FMC and packs the rest (ABI spec 1.56+, Table 4: FMC, BOOT_LOADER,
 * TEE, SNP, 3 reserved bytes, MICROCODE). Reserved bytes must be zero.
 *
 * @example `TCB_LAYOUTS.turin.components.fmc` → `0`
 */
export const TCB_LAYOUTS = {
  legacy: { components: { bootloader: 0, tee: 1, snp: 6, microcode: 7 }, reserved: [2, 3, 4, 5] },
  turin: { components: { fmc: 0, bootloader: 1, tee: 2, snp: 3, microcode: 7 }, reserved: [4, 5, 6] },
} as const satisfies Record<string, { components: Partial<Record<TcbComponent, number>>; reserved: readonly number[] }>;

/** A TCB_VERSION layout. @example `const l: TcbLayout = 'legacy'` */
export type TcbLayout = keyof typeof TCB_LAYOUTS;

/**
 * The SEV-SNP product lines. `arkSha256` pins the AMD Root Key (SHA-256 of its DER, the same
 * in go-sev-guest, trustee, virtee/sev and AMD's KDS); `ark`, `ask` and `asvk` are the common
 * names AMD gives the root and the intermediates that sign VCEKs and VLEKs (VCEK spec §2);
 * `cpuid` lists the family and model ranges a v3+ report states (CPUID_FAM_ID, CPUID_MOD_ID,
 * SEV-SNP ABI spec Table 23; Bergamo and Siena are Genoa parts); `chipIdBytes` is the length of
 * the VCEK's hwID (Turin's is 8 bytes, the rest of CHIP_ID is zero).
 *
 * @example `PRODUCT_LINES.Genoa.ask` → `'SEV-Genoa'`
 */
export const PRODUCT_LINES = {
  Milan: {
    arkSha256: '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
    ark: 'ARK-Milan',
    ask: 'SEV-Milan',
    asvk: 'SEV-VLEK-Milan',
    cpuid: [{ family: 0x19, models: [0x00, 0x0f] }],
    tcb: 'legacy',
    chipIdBytes: 64,
  },
  Genoa: {
    arkSha256: '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
    ark: 'ARK-Genoa',
    ask: 'SEV-Genoa',
    asvk: 'SEV-VLEK-Genoa',
    cpuid: [
      { family: 0x19, models: [0x10, 0x1f] },
      { family: 0x19, models: [0xa0, 0xaf] },
    ],
    tcb: 'legacy',
    chipIdBytes: 64,
  },
  Turin: {
    arkSha256: '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
    ark: 'ARK-Turin',
    ask: 'SEV-Turin',
    asvk: 'SEV-VLEK-Turin',
    cpuid: [{ family: 0x1a, models: [0x00, 0x11] }],
    tcb: 'turin',
    chipIdBytes: 8,
  },
} as const satisfies Record<
  string,
  {
    arkSha256: string;
    ark: string;
    ask: string;
    asvk: string;
    cpuid: readonly { family: number; models: readonly [number, number] }[];
    tcb: TcbLayout;
    chipIdBytes: number;
  }
>;

/** A product line. @example `const p: ProductLine = 'Milan'` */
export type ProductLine = keyof typeof PRODUCT_LINES;

/** Every product line, in table order. @example `PRODUCT_LINE_NAMES.includes('Turin')` */
export const PRODUCT_LINE_NAMES = Object.keys(PRODUCT_LINES) as ProductLine[];

/**
 * The product line of a CPU family and model, or `undefined` when no line claims it.
 *
 * @example `productOfCpuid(0x19, 0x11)` → `'Genoa'`
 */
export function productOfCpuid(family: number, model: number): ProductLine | undefined {
  return PRODUCT_LINE_NAMES.find((p) =>
    PRODUCT_LINES[p].cpuid.some((c) => c.family === family && model >= c.models[0] && model <= c.models[1]),
  );
}

/**
 * The product line a VCEK's productName extension names ("Milan-B0", "Genoa", "Turin": the line,
 * optionally followed by `-` and a stepping), or `undefined`.
 *
 * @example `productOfName('Milan-B0')` → `'Milan'`
 */
export function productOfName(name: string): ProductLine | undefined {
  const line = name.split('-', 1)[0] ?? '';
  return PRODUCT_LINE_NAMES.find((p) => p === line);
}

/**
 * A decoded TCB_VERSION: the 64-bit value in hex (as AMD's tools print it) and each component of
 * the layout.
 *
 * @example `{ raw: '7308000000000003', bootloader: 3, tee: 0, snp: 8, microcode: 115 }`
 */
export type Tcb = { raw: string } & Partial<Record<TcbComponent, number>>;

/**
 * Decodes the 8 bytes of a TCB_VERSION with a layout; `undefined` when a reserved byte is set.
 *
 * @example `decodeTcb(report.subarray(0x180, 0x188), 'legacy')?.microcode`
 */
export function decodeTcb(bytes: Uint8Array, layout: TcbLayout): Tcb | undefined {
  const l = TCB_LAYOUTS[layout];
  if (l.reserved.some((i) => bytes[i] !== 0)) return undefined;
  const tcb: Tcb = { raw: Buffer.from(bytes).reverse().toString('hex') };
  for (const [name, at] of Object.entries(l.components) as [TcbComponent, number][]) tcb[name] = bytes[at] as number;
  return tcb;
}
