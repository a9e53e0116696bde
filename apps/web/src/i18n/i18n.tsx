import { createContext, type ReactNode, useContext, useEffect, useMemo, useState } from "react";
import { de, en, type Messages } from "./messages.ts";

/*
 * English and German. The browser's language picks one at first; a choice in the header is remembered. Dates
 * and numbers are formatted per locale with Intl.
 */

export type Locale = "en" | "de";
export const LOCALES: readonly Locale[] = ["en", "de"];
const STORAGE_KEY = "turnout:locale";
const MESSAGES: Record<Locale, Messages> = { en, de };

export interface I18n {
  locale: Locale;
  t: Messages;
  setLocale: (locale: Locale) => void;
  /** A date and time in `timeZone` (default: the viewer's), e.g. "Sat, 12 Dec 2026, 19:00". */
  formatDateTime: (iso: string, timeZone?: string) => string;
  /** From start to end in `timeZone`, the shared parts said once ("Fri, Mar 12, 2027, 7:00 – 11:00 PM"). */
  formatDateTimeRange: (startIso: string, endIso: string, timeZone?: string) => string;
  formatNumber: (value: number) => string;
}

function detectLocale(): Locale {
  const stored = readStored();
  if (stored !== null) return stored;
  for (const language of navigator.languages) {
    const base = language.slice(0, 2).toLowerCase();
    if (base === "de" || base === "en") return base;
  }
  return "en";
}

function readStored(): Locale | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === "en" || value === "de" ? value : null;
  } catch {
    return null;
  }
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(detectLocale);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18n>(() => {
    const numbers = new Intl.NumberFormat(locale);
    return {
      locale,
      t: MESSAGES[locale],
      setLocale: (next) => {
        try {
          localStorage.setItem(STORAGE_KEY, next);
        } catch {
          // Private mode: the choice lasts for this page only.
        }
        setLocaleState(next);
      },
      formatDateTime: (iso, timeZone) => dateTimeFormat(locale, timeZone).format(new Date(iso)),
      formatDateTimeRange: (startIso, endIso, timeZone) =>
        dateTimeFormat(locale, timeZone).formatRange(new Date(startIso), new Date(endIso)),
      formatNumber: (value) => numbers.format(value),
    };
  }, [locale]);
  return <I18nContext value={value}>{children}</I18nContext>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (value === null) throw new Error("useI18n outside I18nProvider");
  return value;
}

function dateTimeFormat(locale: Locale, timeZone: string | undefined): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(locale, {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZone,
  });
}
