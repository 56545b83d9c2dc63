// `cxr data …`: dataset utilities.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadImageFolder, synthesizeDataset } from '@cxr/data';
import { auditImageFolder } from '../audit/dataAudit.ts';
import { formatAuditText } from '../audit/auditReport.ts';
import { writeJsonAtomic } from '../run/atomicWrite.ts';
import { checkOutputFile } from './outputFile.ts';
import { helpExamples } from './helpExamples.ts';
import { intOption } from './intOption.ts';

export function dataCommand(): Command {
  const data = new Command('data')
    .description('datasets: the built-in synthetic set, audits of your own')
    .addHelpText('after', helpExamples(['cxr data synth --out data/synthetic', 'cxr data audit data/covid --out audit.json']));
  data
    .command('synth')
    .description('write the built-in synthetic chest-X-ray-like dataset (train/val/test × infected/normal)')
    .requiredOption('--out <dir>', 'folder to write')
    .option('--per-class <n>', 'images per class (all splits)', intOption, 120)
    .option('--size <px>', 'image size', intOption, 256)
    .option('--seed <n>', 'seed', intOption, 0)
    .addHelpText('after', helpExamples(['cxr data synth --out data/synthetic', 'cxr data synth --out /tmp/tiny --per-class 10 --size 48 --seed 1']))
    .action(async (o) => {
      // The synthetic images go into <out>/<split>/<class>/ under fixed names: into a folder that
      // already holds a dataset (a typo'd --out pointing at real X-rays) they replaced same-named
      // images and mixed synthetic ones in with the rest, silently. Only a new or empty folder.
      if (existsSync(o.out)) {
        if (!statSync(o.out).isDirectory()) throw new Error(`data synth: --out ${o.out} is a file; give a new folder`);
        const entries = readdirSync(o.out);
        if (entries.length)
          throw new Error(
            `data synth: --out ${o.out} is not empty (${entries.length} entries); give a new or empty folder so that no image there is replaced or mixed with synthetic ones`,
          );
      }
      await synthesizeDataset({ out: o.out, perClass: o.perClass, size: o.size, seed: o.seed });
      console.log(`wrote ${o.out}`);
    });
  data
    .command('audit')
    .description('duplicates (exact and near) within and across splits, patient overlap, and a shortcut probe (can file properties alone predict the label?)')
    .argument('<dir>', 'image folder (<split>/<class>/*, <class>/*, or with --manifest)')
    .option('--manifest <csv>', 'CSV with path,label[,split][,group] (group = patient: enables the patient-overlap check)')
    .option('--classes <spec>', 'keep/rename/merge classes, as train')
    .option('--seed <n>', 'seed of seeded splits, cross-validation folds and bootstrap', intOption, 0)
    .option('--out <file>', 'also write the findings to this JSON file (audit.json)')
    .option('--force', 'replace the --out file if it exists')
    .option('--json', 'print the findings as JSON (what audit.json holds)')
    .addHelpText('after', helpExamples(['cxr data audit data/covid', 'cxr data audit data/cxr --manifest patients.csv --json > audit.json']))
    .action(async (dir: string, o: { manifest?: string; classes?: string; seed: number; out?: string; force?: boolean; json?: boolean }) => {
      if (!existsSync(dir)) throw new Error(`data audit: ${dir}: no such folder`);
      // A file (one X-ray, the manifest) was reported as "no such folder" though it exists.
      if (!statSync(dir).isDirectory())
        throw new Error(`data audit: ${dir} is a file, not a folder; give the image folder (a CSV of path,label goes to --manifest)`);
      if (o.out !== undefined) checkOutputFile('data audit', '--out', o.out, o.force, join(o.out, 'audit.json'));
      const quiet = () => {};
      const folder = await loadImageFolder(dir, {
        seed: o.seed,
        manifest: o.manifest,
        classes: o.classes,
        onBadImage: 'skip',
        log: o.json ? quiet : (m) => console.error(m),
        warn: (m) => console.error(m),
      });
      const { audit } = await auditImageFolder(folder, {
        seed: o.seed,
        onProgress:
          o.json || !process.stderr.isTTY
            ? undefined
            : (done, total) => {
                process.stderr.write(`\raudit: ${done}/${total} images`);
                if (done === total) process.stderr.write('\n');
              },
      });
      if (o.out) writeJsonAtomic(o.out, audit);
      if (o.json) process.stdout.write(JSON.stringify(audit, null, 2) + '\n');
      else console.log(formatAuditText(audit));
    });
  return data;
}
