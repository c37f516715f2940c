import { useEffect, useRef } from "react";
import { BarChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { init, use, type ComposeOption } from "echarts/core";
import type {
  BarSeriesOption,
  GridComponentOption,
  LegendComponentOption,
  PieSeriesOption,
  TooltipComponentOption,
} from "echarts";
import { CanvasRenderer } from "echarts/renderers";
import { useTheme } from "../theme.ts";

// Only what the console draws, so the chart chunk stays a fraction of the full library.
use([BarChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export type ChartOption = ComposeOption<
  BarSeriesOption | PieSeriesOption | GridComponentOption | LegendComponentOption | TooltipComponentOption
>;

/** Text and grid colours from the page's theme variables, so charts follow the theme toggle. */
function themeColors(): { text: string; line: string } {
  const style = getComputedStyle(document.documentElement);
  return {
    text: style.getPropertyValue("--text-muted").trim() || "#999",
    line: style.getPropertyValue("--border").trim() || "#444",
  };
}

/** One ECharts instance bound to a div, resized with it and rebuilt when the theme changes. */
export function Chart({ option, height = 260, label }: { option: ChartOption; height?: number; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const theme = useTheme();
  const chartRef = useRef<ReturnType<typeof init> | undefined>(undefined);

  useEffect(() => {
    const element = ref.current;
    if (element === null) return;
    const chart = init(element, undefined, { renderer: "canvas" });
    chartRef.current = chart;
    const observer = new ResizeObserver(() => chart.resize());
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.dispose();
      chartRef.current = undefined;
    };
  }, []);

  useEffect(() => {
    const chart = chartRef.current;
    if (chart === undefined) return;
    const colors = themeColors();
    chart.setOption(
      { backgroundColor: "transparent", textStyle: { color: colors.text }, ...option },
      { notMerge: true },
    );
    // Merged into the option's own legend and (single) axes: ECharts' defaults are for a white page.
    const axis = {
      axisLine: { lineStyle: { color: colors.line } },
      splitLine: { lineStyle: { color: colors.line } },
      axisLabel: { color: colors.text },
    };
    chart.setOption({
      legend: { textStyle: { color: colors.text } },
      ...(option.xAxis !== undefined ? { xAxis: axis } : {}),
      ...(option.yAxis !== undefined ? { yAxis: axis } : {}),
    });
  }, [option, theme]);

  return <div ref={ref} className="chart" style={{ height }} role="img" aria-label={label} />;
}
