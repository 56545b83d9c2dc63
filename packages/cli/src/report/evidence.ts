/**
 * What a reviewer needs besides the point metrics, computed from a run's predictions and written
 * next to them: the threshold chosen on validation and applied unchanged to the final split, 95%
 * intervals for every metric at that threshold, calibration (ECE, reliability diagram, optional
 * temperature fitted on validation), ROC/PR pictures, and Grad-CAM overlays of the sample images
 * with the share of each map's mass outside the central lung region. The result goes into
 * metrics.json (`evidence`) and report.md.
 */
import { join } from 'node:path';
import type { Module } from '@cxr/nn';
import { explainImages } from '../explain/explainImages.ts';
import { evalImage } from '../train/data.ts';
import { applyTemperature, calibration, fitTemperature, type ReliabilityBin } from '../metrics/calibration.ts';
import { findClassIndex } from '../metrics/confusionMatrix.ts';
import { bootstrapDefaults, bootstrapInterval, type Interval } from '../metrics/intervals.ts';
import { areaOutsideLung, massOutsideLung } from '../metrics/lungMass.ts';
import { metricIntervals, predictAt, type MetricIntervals } from '../metrics/metricIntervals.ts';
import { averagePrecision, precisionRecallCurve } from '../metrics/precisionRecall.ts';
import { areaUnderCurve, rocAuc, rocCurve } from '../metrics/rocAuc.ts';
import { chooseThreshold, parseThresholdSpec, type ChosenThreshold } from '../metrics/threshold.ts';
import { writeFileAtomic } from '../run/atomicWrite.ts';
import { runFiles } from '../run/runFolder.ts';
import { overlayHeatmap } from './heatmapOverlay.ts';
import { renderCalibrationPng, renderPrPng, renderRocPng } from './operatingCharts.ts';
import { renderSamplesPng } from './samplesGrid.ts';
import { selectSamples } from './sampleSelection.ts';

export const evidenceFiles = { roc: runFiles.roc, pr: runFiles.pr, calibration: runFiles.calibration, modelCard: runFiles.modelCard } as const;

export interface SplitPredictions {
  probs: readonly ArrayLike<number>[];
  labels: readonly number[];
  files: readonly string[];
}

export interface Evidence {
  /** Split the final numbers are reported on (test when present, else validation). */
  split: string;
  /** null with more than two classes (argmax decides). */
  threshold: ChosenThreshold | null;
  /** Per split, at the chosen threshold. */
  intervals: Record<string, MetricIntervals>;
  calibration: {
    split: string;
    bins: number;
    ece: number;
    /** Fitted on validation with --calibrate temperature; null otherwise. */
    temperature: number | null;
    eceAfter: number | null;
    reliability: ReliabilityBin[];
  };
  /**
   * More than two classes: the class roc.png, pr.png and the average precision take against the
   * rest (the AUC in the curves' titles is that class's, not the macro AUC of the intervals).
   */
  curveClass?: string;
  averagePrecision: number | null;
  /** Stratified bootstrap 95% interval of the average precision (same resamples and seed as AUC). */
  averagePrecisionCi: Interval | null;
  gradCam: {
    layer: string;
    /** [h, w] cells of the layer's feature map at this input size (2 x 2 cannot localise anything). */
    featureShape: [number, number];
    images: { file: string; actual: string; predicted: string; probability: number; massOutsideLung: number }[];
    meanMassOutsideLung: number;
    /** What a map spread evenly over the image would give. */
    areaOutsideLung: number;
  } | null;
}

export interface EvidenceInput {
  dir: string;
  classNames: readonly string[];
  val: SplitPredictions;
  /** Every evaluated split by name (train, val, test). */
  splits: Record<string, SplitPredictions>;
  finalSplit: string;
  threshold: string;
  calibrate: 'none' | 'temperature';
  /** Model and Grad-CAM layer for the overlays; omit to draw plain samples. */
  model?: Module;
  camLayer?: string;
  imageSize: number;
  positiveClass?: string;
  seed?: number;
  /** Title of samples.png. */
  samplesTitle: string;
  log?: (m: string) => void;
}

/** The AUC of one class's scores against the rest, with its stratified bootstrap interval. */
export function oneVsRestAuc(scores: readonly number[], isPos: readonly boolean[], labels: readonly number[], boot: { resamples: number; seed: number }) {
  const roc = rocCurve(scores, isPos);
  return {
    value: roc && areaUnderCurve(roc),
    ci: bootstrapInterval(
      labels,
      (idx) =>
        rocAuc(
          Array.from(idx, (i) => scores[i]),
          Array.from(idx, (i) => isPos[i]),
        ),
      boot,
    ),
  };
}

export async function buildEvidence(input: EvidenceInput): Promise<Evidence> {
  const { classNames, dir } = input;
  const named = findClassIndex(classNames, input.positiveClass ?? 'infected');
  const positive = Math.max(named, 0);
  const binary = classNames.length === 2;
  const boot = { resamples: bootstrapDefaults.resamples, seed: input.seed ?? bootstrapDefaults.seed };

  let temperature: number | null = null;
  if (input.calibrate === 'temperature') temperature = fitTemperature(input.val.probs, input.val.labels);
  const scaled = (p: readonly ArrayLike<number>[]) => (temperature === null ? p : applyTemperature(p, temperature));

  // The threshold is chosen on validation probabilities after calibration (what predict will see).
  const valProbs = scaled(input.val.probs);
  const threshold = binary
    ? chooseThreshold(
        parseThresholdSpec(input.threshold),
        valProbs.map((r) => r[positive]),
        input.val.labels.map((l) => l === positive),
        'val',
      )
    : null;

  const intervals: Record<string, MetricIntervals> = {};
  for (const [name, p] of Object.entries(input.splits)) {
    intervals[name] = metricIntervals({ probs: scaled(p.probs), labels: p.labels, classNames, positive, threshold: threshold?.value ?? null }, boot);
  }

  const fin = input.splits[input.finalSplit];
  const finProbs = scaled(fin.probs);
  const before = calibration(fin.probs, fin.labels);
  const after = temperature === null ? null : calibration(finProbs, fin.labels);
  writeFileAtomic(join(dir, evidenceFiles.calibration), await renderCalibrationPng(before, after, input.finalSplit));

  let ap: number | null = null;
  let apCi: Interval | null = null;
  const scores = finProbs.map((r) => r[positive]);
  const isPos = fin.labels.map((l) => l === positive);
  const roc = rocCurve(scores, isPos);
  const fi = intervals[input.finalSplit];
  // With more than two classes the curves are one class against the rest: their titles carry
  // that class's own AUC, not the one-vs-rest macro AUC of the intervals table.
  const curveSplit = binary ? input.finalSplit : `${input.finalSplit}, '${classNames[positive]}' vs rest`;
  if (roc) {
    const op = binary && fi.sensitivity.value !== null && fi.specificity.value !== null ? { tpr: fi.sensitivity.value, fpr: 1 - fi.specificity.value } : null;
    const auc = binary ? fi.auc : oneVsRestAuc(scores, isPos, fin.labels, boot);
    writeFileAtomic(join(dir, evidenceFiles.roc), await renderRocPng(roc, auc.value, auc.ci, op, curveSplit));
    const pr = precisionRecallCurve(scores, isPos)!;
    ap = averagePrecision(pr);
    apCi = bootstrapInterval(
      fin.labels,
      (idx) => {
        const c = precisionRecallCurve(
          Array.from(idx, (i) => scores[i]),
          Array.from(idx, (i) => isPos[i]),
        );
        return c ? averagePrecision(c) : null;
      },
      boot,
    );
    const opPr = binary && fi.sensitivity.value !== null && fi.ppv.value !== null ? { recall: fi.sensitivity.value, precision: fi.ppv.value } : null;
    writeFileAtomic(join(dir, evidenceFiles.pr), await renderPrPng(pr, ap, apCi, opPr, curveSplit));
  }

  // samples.png: right and wrong predictions at the operating point, with Grad-CAM overlays.
  const predicted = predictAt(finProbs, positive, threshold?.value ?? null);
  const rows = selectSamples(finProbs, fin.labels, classNames, { positiveClass: classNames[positive], predicted });
  const chosen = rows.flatMap((r) => [...r.right, ...r.wrong]);
  let gradCam: Evidence['gradCam'] = null;
  const overlays = new Map<number, ReturnType<typeof overlayHeatmap>>();
  if (input.model && input.camLayer && chosen.length) {
    // Each tile's map explains the class its caption names as predicted. Left to itself Grad-CAM
    // explains the most probable class, which at the validation threshold is often not the
    // prediction (p(infected) 0.46 >= 0.4568 is captioned "pred: infected" while argmax says
    // normal): the overlay then showed where the model looked for the other class.
    const explained = await explainImages(
      input.model,
      chosen.map((c) => fin.files[c.index]),
      { layer: input.camLayer, imageSize: input.imageSize, batchSize: 4, classIndex: chosen.map((c) => c.predicted) },
    );
    const images: NonNullable<Evidence['gradCam']>['images'] = [];
    explained.forEach((e, k) => {
      const c = chosen[k];
      overlays.set(c.index, overlayHeatmap(e.image, e.map));
      images.push({
        file: e.file,
        actual: classNames[c.actual],
        predicted: classNames[c.predicted],
        probability: finProbs[c.index][c.predicted],
        massOutsideLung: massOutsideLung(e.map, e.image.width, e.image.height),
      });
    });
    gradCam = {
      layer: input.camLayer,
      featureShape: explained[0].featureShape,
      images,
      meanMassOutsideLung: images.reduce((s, i) => s + i.massOutsideLung, 0) / images.length,
      areaOutsideLung: areaOutsideLung(input.imageSize, input.imageSize),
    };
  }
  writeFileAtomic(
    join(dir, 'samples.png'),
    renderSamplesPng(rows, {
      classNames,
      imageAt: (i) => overlays.get(i) ?? evalImage(fin.files[i], input.imageSize),
      title: input.samplesTitle + (gradCam ? ` with Grad-CAM (${gradCam.layer})` : ''),
    }),
  );

  return {
    split: input.finalSplit,
    threshold,
    intervals,
    calibration: {
      split: input.finalSplit,
      bins: before.bins.length,
      ece: before.ece,
      temperature,
      eceAfter: after?.ece ?? null,
      reliability: (after ?? before).bins,
    },
    curveClass: binary ? undefined : classNames[positive],
    averagePrecision: ap,
    averagePrecisionCi: apCi,
    gradCam,
  };
}
