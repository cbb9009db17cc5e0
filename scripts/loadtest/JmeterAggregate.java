// Prints what JMeter's Aggregate Report shows for a CSV JTL, computed by JMeter's own
// SamplingStatCalculator (the class behind the Aggregate Report listener), one label a line:
// label, samples, errors, mean, median, 90%, 95%, 99% line, max (ms) and throughput (per second).
// The Rust parser's tests compare their figures with this output.
//
// Usage: java -cp '/usr/share/jmeter/lib/*:/usr/share/jmeter/lib/ext/*' JmeterAggregate.java IN.jtl
import java.io.BufferedReader;
import java.io.FileReader;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.jmeter.samplers.SampleResult;
import org.apache.jmeter.save.CSVSaveService;
import org.apache.jmeter.util.JMeterUtils;
import org.apache.jmeter.visualizers.SamplingStatCalculator;

public class JmeterAggregate {
    public static void main(String[] args) throws Exception {
        JMeterUtils.setJMeterHome("/usr/share/jmeter");
        JMeterUtils.loadJMeterProperties("/usr/share/jmeter/bin/jmeter.properties");
        Map<String, SamplingStatCalculator> byLabel = new TreeMap<>();
        try (BufferedReader reader = new BufferedReader(new FileReader(args[0]))) {
            List<String> header = Arrays.asList(CSVSaveService.csvReadFile(reader, ','));
            int timeStamp = header.indexOf("timeStamp"), elapsed = header.indexOf("elapsed");
            int label = header.indexOf("label"), success = header.indexOf("success");
            String[] row;
            while ((row = CSVSaveService.csvReadFile(reader, ',')).length > 0) {
                SampleResult sample = new SampleResult(Long.parseLong(row[timeStamp]), Long.parseLong(row[elapsed]));
                sample.setSampleLabel(row[label]);
                sample.setSuccessful(Boolean.parseBoolean(row[success]));
                byLabel.computeIfAbsent(row[label], SamplingStatCalculator::new).addSample(sample);
            }
        }
        for (SamplingStatCalculator stats : byLabel.values()) {
            System.out.printf("%s\t%d\t%d\t%.6f\t%s\t%s\t%s\t%s\t%s\t%.6f%n", stats.getLabel(), stats.getCount(),
                stats.getErrorCount(), stats.getMean(), stats.getMedian(), stats.getPercentPoint(0.90),
                stats.getPercentPoint(0.95), stats.getPercentPoint(0.99), stats.getMax(), stats.getRate());
        }
    }
}
