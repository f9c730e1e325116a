namespace SharpTune.Evaluation;

/// <summary>The training loss per optimizer step as a PNG (ScottPlot on SkiaSharp).</summary>
public static class LossCurvePlot
{
    public static void Save(TrainingLogSummary training, string path, int width = 800, int height = 450)
    {
        var plot = new ScottPlot.Plot();
        if (training.StepCount > 0)
        {
            double[] steps = training.Steps.Select(s => (double)s.Step).ToArray();
            double[] losses = training.Steps.Select(s => s.Loss).ToArray();
            var line = plot.Add.Scatter(steps, losses);
            line.LegendText = "training loss";
            line.MarkerSize = training.StepCount <= 100 ? 4 : 0;
        }

        plot.Title("Training loss");
        plot.XLabel("optimizer step");
        plot.YLabel("loss");
        string temp = path + ".tmp.png";
        plot.SavePng(temp, width, height);
        File.Move(temp, path, overwrite: true);
    }
}
