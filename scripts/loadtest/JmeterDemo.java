// Builds and runs a small JMeter test plan in code and writes its results as a CSV JTL.
//
// Debian's JMeter 2.13 cannot load .jmx files with the xstream it ships beside
// (ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper), so the plan is built here
// instead: one thread group of 4 threads, 25 loops, three HTTP samplers against a local static
// server. "home" always succeeds, "missing page" always gets a 404 (so the results have
// failures), and "search, \"quoted\"" has a comma and quotes in its label (so the CSV has quoted
// fields). The results are written by JMeter's own ResultCollector with the properties of
// jmeter.properties, as `jmeter -n -l results.jtl` would.
//
// Usage: java -cp '/usr/share/jmeter/lib/*:/usr/share/jmeter/lib/ext/*' JmeterDemo.java PORT OUT.jtl
import org.apache.jmeter.control.LoopController;
import org.apache.jmeter.engine.StandardJMeterEngine;
import org.apache.jmeter.protocol.http.sampler.HTTPSamplerProxy;
import org.apache.jmeter.reporters.ResultCollector;
import org.apache.jmeter.testelement.TestElement;
import org.apache.jmeter.testelement.TestPlan;
import org.apache.jmeter.threads.ThreadGroup;
import org.apache.jmeter.util.JMeterUtils;
import org.apache.jorphan.collections.HashTree;

public class JmeterDemo {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String out = args[1];
        JMeterUtils.setJMeterHome("/usr/share/jmeter");
        JMeterUtils.loadJMeterProperties("/usr/share/jmeter/bin/jmeter.properties");
        JMeterUtils.setProperty("jmeter.save.saveservice.output_format", "csv");
        // A header line, as JMeter 3.0 and later write by default; 2.13 defaults to none.
        JMeterUtils.setProperty("jmeter.save.saveservice.print_field_names", "true");
        JMeterUtils.initLogging();
        JMeterUtils.initLocale();

        TestPlan testPlan = new TestPlan("tollgate load test fixture");
        LoopController loop = new LoopController();
        loop.setLoops(25);
        loop.setFirst(true);
        loop.setProperty(TestElement.TEST_CLASS, LoopController.class.getName());
        loop.initialize();
        ThreadGroup threadGroup = new ThreadGroup();
        threadGroup.setName("users");
        threadGroup.setNumThreads(4);
        threadGroup.setRampUp(1);
        threadGroup.setSamplerController(loop);
        threadGroup.setProperty(TestElement.TEST_CLASS, ThreadGroup.class.getName());

        HashTree tree = new HashTree();
        HashTree planTree = tree.add(testPlan);
        HashTree groupTree = planTree.add(threadGroup);
        groupTree.add(sampler("home", port, "/index.html"));
        groupTree.add(sampler("missing page", port, "/missing.html"));
        groupTree.add(sampler("search, \"quoted\"", port, "/index.html?q=a"));
        ResultCollector results = new ResultCollector();
        results.setFilename(out);
        planTree.add(results);

        StandardJMeterEngine engine = new StandardJMeterEngine();
        engine.configure(tree);
        engine.run();
        System.exit(0);
    }

    private static HTTPSamplerProxy sampler(String name, int port, String path) {
        HTTPSamplerProxy sampler = new HTTPSamplerProxy();
        sampler.setName(name);
        sampler.setDomain("127.0.0.1");
        sampler.setPort(port);
        sampler.setProtocol("http");
        sampler.setPath(path);
        sampler.setMethod("GET");
        sampler.setFollowRedirects(true);
        sampler.setUseKeepAlive(true);
        sampler.setProperty(TestElement.TEST_CLASS, HTTPSamplerProxy.class.getName());
        return sampler;
    }
}
